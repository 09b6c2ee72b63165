#include "http/framing.hpp"

#include <gtest/gtest.h>

namespace hs::http {
namespace {

framing_result plan(const std::string& head_text, const limits& lim = {}) {
    static std::string storage;
    storage = head_text;
    request_parser p(lim);
    static request_head h;
    const auto r = p.parse(storage, h);
    EXPECT_EQ(r.what, parse_result::kind::complete) << head_text;
    return plan_request(h, lim);
}

TEST(framing, content_length_values) {
    std::uint64_t n = 0;
    EXPECT_EQ(parse_content_length("0", n), parse_error::none);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(parse_content_length("9223372036854775807", n), parse_error::none);
    EXPECT_EQ(parse_content_length("9223372036854775808", n), parse_error::bad_content_length);
    EXPECT_EQ(parse_content_length("12, 12,12", n), parse_error::none);
    EXPECT_EQ(n, 12u);
    EXPECT_EQ(parse_content_length("12, 13", n), parse_error::conflicting_content_length);
    for (const char* bad : {"", " ", "+1", "-1", "1 2", "0x1", "1,", ",1", "1,,1", "1.0", "1e3"}) {
        EXPECT_EQ(parse_content_length(bad, n), parse_error::bad_content_length) << bad;
    }
}

TEST(framing, persistence_by_version_and_connection) {
    EXPECT_TRUE(plan("GET / HTTP/1.1\r\nHost: a\r\n\r\n").plan.keep_alive);
    EXPECT_FALSE(plan("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").plan.keep_alive);
    EXPECT_FALSE(plan("GET / HTTP/1.0\r\n\r\n").plan.keep_alive);
    EXPECT_TRUE(plan("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").plan.keep_alive);
    EXPECT_FALSE(plan("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").plan.keep_alive);
}

TEST(framing, body_kinds) {
    EXPECT_EQ(plan("GET / HTTP/1.1\r\nHost: a\r\n\r\n").plan.body, message_plan::body_kind::none);
    EXPECT_EQ(plan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").plan.body,
              message_plan::body_kind::none);
    const auto l = plan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n");
    EXPECT_EQ(l.plan.body, message_plan::body_kind::length);
    EXPECT_EQ(l.plan.content_length, 12u);
    EXPECT_EQ(plan("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").plan.body,
              message_plan::body_kind::chunked);
}

TEST(framing, body_limit_applies_before_reading) {
    limits lim;
    lim.max_body_bytes = 10;
    EXPECT_EQ(plan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", lim).error,
              parse_error::none);
    EXPECT_EQ(plan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", lim).error,
              parse_error::body_too_large);
}

TEST(framing, expectations) {
    EXPECT_TRUE(
        plan("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
            .plan.expect_continue);
    EXPECT_EQ(plan("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n").error,
              parse_error::unsupported_expectation);
    EXPECT_FALSE(plan("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
                     .plan.expect_continue);
}

} // namespace
} // namespace hs::http
