#include "http/serializer.hpp"

#include <gtest/gtest.h>

#include "http/date_cache.hpp"

namespace hs::http {
namespace {

TEST(serializer, ordinary_response) {
    std::string out;
    response r(200, "application/json", "{}");
    serialize_head(out, r, {}, "DATE", "srv");
    EXPECT_EQ(out,
              "HTTP/1.1 200 OK\r\nServer: srv\r\nDate: DATE\r\nContent-Type: application/json\r\n"
              "Content-Length: 2\r\n\r\n");
}

TEST(serializer, head_keeps_the_length_and_bodiless_statuses_have_none) {
    std::string out;
    response r(200, "text/plain", "12345");
    const response_framing head{true, true, 1};
    serialize_head(out, r, head, "D", "s");
    EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_FALSE(sends_body(r, head));
    out.clear();
    response nc;
    nc.status = 204;
    serialize_head(out, nc, {}, "D", "s");
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);
    EXPECT_FALSE(sends_body(nc, {}));
}

TEST(serializer, connection_header) {
    std::string out;
    serialize_head(out, response(200, "", ""), {false, false, 1}, "D", "s");
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    out.clear();
    serialize_head(out, response(200, "", ""), {false, true, 0}, "D", "s");
    EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(date_cache, imf_fixdate) {
    char buf[30] = {};
    date_cache::format(784111777, buf); // RFC 9110 §5.6.7's example
    EXPECT_EQ(std::string_view(buf, 29), "Sun, 06 Nov 1994 08:49:37 GMT");
    date_cache c;
    EXPECT_EQ(c.get(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(problem, is_rfc9457_json) {
    const response r = problem(404, "no \"item\"");
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(r.body,
              R"({"type":"about:blank","title":"Not Found","status":404,"detail":"no \"item\""})");
}

} // namespace
} // namespace hs::http
