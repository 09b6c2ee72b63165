#include "http/serializer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

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

struct nothing_source final : body_source {
    void produce(piece_channel next) override { next.last(); }
};

TEST(serializer, a_streamed_body_is_chunked_on_1_1_and_unframed_on_1_0) {
    response r(200, "application/json", "[");
    r.stream = std::make_unique<nothing_source>();
    std::string out;
    serialize_head(out, r, {false, true, 1}, "D", "s");
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nServer: s\r\nDate: D\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
    out.clear();
    serialize_head(out, r, {false, false, 0}, "D", "s");
    EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos);
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
}

TEST(serializer, chunks_carry_their_size_in_hex_and_an_empty_piece_writes_nothing) {
    std::string out;
    append_chunk(out, "abc");
    append_chunk(out, "");
    append_chunk(out, std::string(300, 'x'));
    EXPECT_EQ(out, "3\r\nabc\r\n12c\r\n" + std::string(300, 'x') + "\r\n");
    out.clear();
    append_chunk(out, std::string(0x10000, 'y'));
    EXPECT_TRUE(out.starts_with("10000\r\n"));
    EXPECT_EQ(last_chunk, "0\r\n\r\n");
}

TEST(entity_tag, is_checked_when_set_and_written_by_the_serializer) {
    entity_tag t;
    EXPECT_TRUE(t.empty());
    EXPECT_TRUE(t.assign("abc-1"));
    EXPECT_EQ(t.value(), "\"abc-1\"");
    EXPECT_TRUE(t.assign("abc-1", true));
    EXPECT_EQ(t.value(), "W/\"abc-1\"");
    for (const std::string_view bad : std::initializer_list<std::string_view>{
             "a\"b", "a b", "a\r\nX: y", std::string_view("a\0b", 3), "a\x7f"}) {
        EXPECT_FALSE(t.assign(bad)) << bad;
        EXPECT_TRUE(t.empty());
    }
    EXPECT_TRUE(t.assign(std::string(entity_tag::max_opaque, 'x')));
    EXPECT_FALSE(t.assign(std::string(entity_tag::max_opaque + 1, 'x')));
    EXPECT_TRUE(t.assign("\x80obs-text"));

    response r(200, "text/plain", "x");
    ASSERT_TRUE(r.etag.assign("v-2"));
    std::string out;
    serialize_head(out, r, {}, "D", "s");
    EXPECT_NE(out.find("\r\nETag: \"v-2\"\r\n"), std::string::npos) << out;
    response nm;
    nm.status = 304;
    ASSERT_TRUE(nm.etag.assign("v-2"));
    out.clear();
    serialize_head(out, nm, {}, "D", "s");
    EXPECT_NE(out.find("\r\nETag: \"v-2\"\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);
}

TEST(serializer, connection_header) {
    std::string out;
    serialize_head(out, response(200, "", ""), {false, false, 1}, "D", "s");
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    out.clear();
    serialize_head(out, response(200, "", ""), {false, true, 0}, "D", "s");
    EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(serializer, reason_phrases) {
    // RFC 9110 §15 (every status it defines), RFC 6585 (428, 429, 431) and RFC 4918 (507).
    const std::pair<int, std::string_view> table[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {305, "Use Proxy"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {507, "Insufficient Storage"},
    };
    for (const auto& [status, phrase] : table) {
        EXPECT_EQ(reason_phrase(status), phrase) << status;
    }
    // 306 and 418 are reserved or unused (RFC 9110 §15.4.7, §15.5.19); others are unknown.
    for (const int status : {0, 99, 102, 199, 306, 418, 420, 499, 506, 508, 599, 600, -1}) {
        EXPECT_EQ(reason_phrase(status), "Unknown") << status;
    }
    std::string out;
    serialize_head(out, response(429, "", ""), {}, "D", "s");
    EXPECT_EQ(out.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u) << out;
}

/// The reason well_formed gives for \p r, or "" when it accepts it.
std::string refusal(const response& r) {
    std::string why = "stale";
    const bool ok = well_formed(r, why);
    EXPECT_EQ(ok, why.empty()) << why;
    return why;
}

response with_header(std::string name, std::string value) {
    response r(200, "text/plain", "x");
    r.headers.emplace_back(std::move(name), std::move(value));
    return r;
}

TEST(well_formed, accepts_what_the_app_sends) {
    EXPECT_EQ(refusal(response(200, "application/json", "{}")), "");
    EXPECT_EQ(refusal(response(204, "", "")), "");
    EXPECT_EQ(refusal(problem(404, "no \"item\"\r\n")), ""); // the body is not checked
    response r(201, "application/json; charset=utf-8", "{}");
    r.headers = {{"Location", "/data/1"}, {"Allow", "GET, HEAD"},   {"Retry-After", "1"},
                 {"X-Empty", ""},         {"X-Obs", "caf\xc3\xa9"}, {"x-tab", "a\tb"}};
    EXPECT_EQ(refusal(r), "");
    response ct(200, "", "x"); // without content_type, Content-Type may come as a header
    ct.headers.emplace_back("Content-Type", "text/plain");
    EXPECT_EQ(refusal(ct), "");
}

TEST(well_formed, refuses_response_splitting_in_values) {
    const std::string why = refusal(with_header("Location", "/a\r\nSet-Cookie: s=1"));
    EXPECT_NE(why.find("Location"), std::string::npos) << why;
    EXPECT_NE(why.find("CR at byte 2"), std::string::npos) << why;
    EXPECT_EQ(why.find('\r'), std::string::npos) << why; // shown escaped
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    EXPECT_NE(why.find("\\x0D\\x0A"), std::string::npos) << why;
    for (const char* bad : {"a\nb", "a\rb", " a", "a ", "\ta", "a\x7f", "a\x01"}) {
        EXPECT_NE(refusal(with_header("X-A", bad)).find("X-A"), std::string::npos) << bad;
    }
    EXPECT_NE(refusal(with_header("X-A", std::string("a\0b", 3))).find("NUL"), std::string::npos);
    EXPECT_NE(refusal(with_header("X-A", "a ")).find("whitespace"), std::string::npos);
}

TEST(well_formed, refuses_bad_names) {
    for (const char* bad : {"", "X Y", "X:", "X\r\nSet-Cookie", "X\n", "a/b", "caf\xc3\xa9"}) {
        const std::string why = refusal(with_header(bad, "v"));
        EXPECT_NE(why.find("not a token"), std::string::npos) << why;
        EXPECT_EQ(why.find_first_of("\r\n"), std::string::npos) << why;
    }
    EXPECT_NE(refusal(with_header("", "v")).find("\"\""), std::string::npos);
}

TEST(well_formed, refuses_fields_the_serializer_writes) {
    for (const char* own : {"Content-Length", "content-length", "Transfer-Encoding", "Date",
                            "SERVER", "Connection"}) {
        const std::string why = refusal(with_header(own, "1"));
        EXPECT_NE(why.find(own), std::string::npos) << why;
    }
    // content_type is set: a Content-Type header would be a second one.
    EXPECT_NE(refusal(with_header("content-type", "text/html")).find("content-type"),
              std::string::npos);
    EXPECT_EQ(refusal(with_header("Content-Location", "/x")), "");
    EXPECT_EQ(refusal(with_header("X-Date", "1")), "");
}

TEST(well_formed, refuses_a_stream_on_a_status_without_content) {
    std::string why;
    for (const int status : {204, 304}) {
        response r;
        r.status = status;
        r.stream = std::make_unique<nothing_source>();
        EXPECT_FALSE(well_formed(r, why));
        EXPECT_NE(why.find("streamed body on status"), std::string::npos) << why;
    }
    response ok(200, "text/plain", "");
    ok.stream = std::make_unique<nothing_source>();
    EXPECT_TRUE(well_formed(ok, why)) << why;
}

TEST(well_formed, refuses_an_etag_header_beside_the_etag_field) {
    response r(200, "text/plain", "x");
    ASSERT_TRUE(r.etag.assign("a"));
    r.headers.emplace_back("etag", "\"b\"");
    std::string why;
    EXPECT_FALSE(well_formed(r, why));
    EXPECT_NE(why.find("repeats etag"), std::string::npos) << why;
    r.etag.clear();
    EXPECT_TRUE(well_formed(r, why)) << why;
}

TEST(well_formed, checks_content_type_and_status) {
    response r(200, "text/html\r\nX-Injected: 1", "x");
    std::string why = refusal(r);
    EXPECT_NE(why.find("content_type"), std::string::npos) << why;
    EXPECT_EQ(why.find_first_of("\r\n"), std::string::npos) << why;
    EXPECT_NE(refusal(response(200, " text/plain", "x")), "");
    EXPECT_NE(refusal(response(200, std::string("text/plain\0", 11), "x")), "");
    for (const int status : {0, -1, 100, 101, 199, 600, 1000}) {
        why = refusal(response(status, "", ""));
        EXPECT_NE(why.find(std::to_string(status)), std::string::npos) << why;
    }
    EXPECT_EQ(refusal(response(599, "", "")), "");
    const std::string long_value(1000, 'a');
    why = refusal(with_header("X-Long", long_value + "\n"));
    EXPECT_LT(why.size(), 200u) << why; // the value is shown truncated, the fault's place not
    EXPECT_NE(why.find("LF at byte 1000"), std::string::npos) << why;
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
