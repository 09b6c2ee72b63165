#include "routing/query.hpp"

#include <gtest/gtest.h>

namespace hs::routing {
namespace {

TEST(query, form_decode) {
    std::string out;
    EXPECT_TRUE(form_decode("a+b%20c%2B%00%ff", out));
    EXPECT_EQ(out, std::string("a b c+\0\xff", 8));
    EXPECT_TRUE(form_decode("", out));
    EXPECT_EQ(out, "");
    for (const char* bad : {"%", "%z", "%zz", "%4", "a%g0", "%%"}) {
        EXPECT_FALSE(form_decode(bad, out)) << bad;
    }
}

TEST(query, find_param) {
    EXPECT_EQ(find_param("message=hi&x=1", "message"), "hi");
    EXPECT_EQ(find_param("x=1&message=", "message"), "");
    EXPECT_EQ(find_param("message", "message"), "");
    EXPECT_EQ(find_param("message=a&message=b", "message"), "a"); // the first wins
    EXPECT_EQ(find_param("mess%61ge=enc", "message"), "enc");     // names are decoded too
    EXPECT_FALSE(find_param("messages=1&x", "message").has_value());
    EXPECT_FALSE(find_param("", "message").has_value());
}

} // namespace
} // namespace hs::routing
