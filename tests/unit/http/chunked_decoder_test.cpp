#include "http/chunked_decoder.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hs::http {
namespace {

using st = chunked_decoder::status;

TEST(chunked_decoder, decodes_in_place) {
    std::string buf = "4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT";
    const limits lim;
    chunked_decoder d(lim);
    ASSERT_EQ(d.decode({buf.data(), buf.size()}), st::done);
    EXPECT_EQ(buf.substr(0, d.decoded_size()), "Wikipedia");
    EXPECT_EQ(buf.substr(d.consumed()), "NEXT");
}

TEST(chunked_decoder, resumes_across_calls_and_compacts) {
    const std::string wire = "3\r\nabc\r\n3;e\r\ndef\r\n0\r\n\r\n";
    const limits lim;
    chunked_decoder d(lim);
    std::string buf;
    st s = st::need_more;
    for (const char c : wire) {
        buf += c;
        s = d.decode({buf.data(), buf.size()});
        if (s != st::need_more) {
            break;
        }
        buf.resize(buf.size() - d.compact({buf.data(), buf.size()}));
        EXPECT_LE(buf.size(), 6u + 8u); // decoded bytes + at most the line in progress
    }
    ASSERT_EQ(s, st::done);
    EXPECT_EQ(buf.substr(0, d.decoded_size()), "abcdef");
    EXPECT_EQ(d.consumed(), buf.size());
}

TEST(chunked_decoder, body_limit_is_checked_before_the_data) {
    limits lim;
    lim.max_body_bytes = 5;
    std::string buf = "3\r\nabc\r\n3\r\n"; // the second chunk would pass the limit
    chunked_decoder d(lim);
    EXPECT_EQ(d.decode({buf.data(), buf.size()}), st::error);
    EXPECT_EQ(d.error(), parse_error::body_too_large);
}

TEST(chunked_decoder, trailer_limits) {
    limits lim;
    lim.max_header_fields = 2;
    std::string buf = "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    chunked_decoder d(lim);
    EXPECT_EQ(d.decode({buf.data(), buf.size()}), st::error);
    EXPECT_EQ(d.error(), parse_error::bad_trailer);
}

TEST(chunked_decoder, extension_length_is_bounded) {
    std::string buf = "1;" + std::string(5000, 'a') + "\r\nx\r\n0\r\n\r\n";
    const limits lim;
    chunked_decoder d(lim);
    EXPECT_EQ(d.decode({buf.data(), buf.size()}), st::error);
    EXPECT_EQ(d.error(), parse_error::bad_chunk_extension);
}

TEST(chunked_decoder, rejects_malformed_sizes) {
    for (const std::string bad :
         {"\r\n", "g\r\n", "-1\r\n", "1\rx", "1 x\r\n", "12345678901234567\r\n"}) {
        std::string buf = bad;
        const limits lim;
        chunked_decoder d(lim);
        EXPECT_EQ(d.decode({buf.data(), buf.size()}), st::error) << bad;
    }
}

} // namespace
} // namespace hs::http
