#include "net/buffer.hpp"

#include <gtest/gtest.h>

namespace hs::net {
namespace {

TEST(buffer, append_consume_and_reset) {
    buffer b(16);
    std::memcpy(b.end(), "hello", 5);
    b.commit(5);
    EXPECT_EQ(b.view(), "hello");
    b.consume(2);
    EXPECT_EQ(b.view(), "llo");
    b.consume(3);
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.free_tail(), 16u); // an emptied buffer starts over at the front
}

TEST(buffer, reserve_moves_or_grows_and_keeps_bytes) {
    buffer b(16);
    std::memcpy(b.end(), "0123456789abcdef", 16);
    b.commit(16);
    b.consume(12);
    EXPECT_TRUE(b.reserve_tail(8)); // compacts
    EXPECT_EQ(b.view(), "cdef");
    EXPECT_EQ(b.capacity(), 16u);
    EXPECT_TRUE(b.reserve_tail(100)); // grows
    EXPECT_EQ(b.view(), "cdef");
    EXPECT_GE(b.free_tail(), 100u);
    EXPECT_FALSE(b.reserve_tail(10));
    b.shrink_end(2);
    EXPECT_EQ(b.view(), "cd");
}

} // namespace
} // namespace hs::net
