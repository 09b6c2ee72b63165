#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hs::http {
namespace {

parse_result parse_all(std::string_view in, request_head& h, const limits& lim = {}) {
    request_parser p(lim);
    return p.parse(in, h);
}

TEST(request_parser, parses_line_and_fields_as_views) {
    const std::string in = "POST /a/b?x=1&y HTTP/1.1\r\nHost: h\r\nX-Long:  v  v \r\n\r\nBODY";
    request_head h;
    const auto r = parse_all(in, h);
    ASSERT_EQ(r.what, parse_result::kind::complete);
    EXPECT_EQ(r.consumed, in.find("BODY"));
    EXPECT_EQ(h.method, "POST");
    EXPECT_EQ(h.target, "/a/b?x=1&y");
    EXPECT_EQ(h.path, "/a/b");
    EXPECT_EQ(h.query, "x=1&y");
    EXPECT_EQ(h.version_minor, 1);
    ASSERT_EQ(h.fields.size(), 2u);
    EXPECT_EQ(h.fields[1].name, "X-Long");
    EXPECT_EQ(h.fields[1].value, "v  v");
    EXPECT_GE(h.method.data(), in.data()); // zero-copy: views into the input
    EXPECT_LT(h.fields[1].value.data(), in.data() + in.size());
}

TEST(request_parser, needs_more_until_the_empty_line) {
    const std::string in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    const limits lim;
    request_parser p(lim);
    request_head h;
    for (std::size_t k = 0; k < in.size(); ++k) {
        EXPECT_EQ(p.parse(std::string_view(in).substr(0, k), h).what, parse_result::kind::need_more)
            << k;
    }
    EXPECT_EQ(p.parse(in, h).what, parse_result::kind::complete);
}

TEST(request_parser, target_over_the_limit_is_414_even_before_the_line_ends) {
    limits lim;
    lim.max_target_bytes = 100;
    request_head h;
    const std::string long_target = "GET /" + std::string(200, 'a');
    EXPECT_EQ(parse_all(long_target, h, lim).error, parse_error::target_too_long);
    EXPECT_EQ(parse_all(long_target + " HTTP/1.1\r\nHost: h\r\n\r\n", h, lim).error,
              parse_error::target_too_long);
    EXPECT_EQ(describe(parse_error::target_too_long).status, 414);
}

TEST(request_parser, header_section_over_the_limit_is_431) {
    limits lim;
    lim.max_header_bytes = 256;
    request_head h;
    const std::string in = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(300, 'v') + "\r\n\r\n";
    EXPECT_EQ(parse_all(in, h, lim).error, parse_error::header_too_large);
    EXPECT_EQ(parse_all(in.substr(0, 280), h, lim).error, parse_error::header_too_large);
    EXPECT_EQ(describe(parse_error::header_too_large).status, 431);
}

TEST(request_parser, too_many_fields_is_431) {
    limits lim;
    lim.max_header_fields = 3;
    request_head h;
    std::string in = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 3; ++i) {
        in += "X" + std::to_string(i) + ": v\r\n";
    }
    EXPECT_EQ(parse_all(in + "\r\n", h, lim).what, parse_result::kind::complete);
    EXPECT_EQ(parse_all(in + "X9: v\r\n\r\n", h, lim).error, parse_error::too_many_fields);
    EXPECT_EQ(describe(parse_error::too_many_fields).status, 431);
}

TEST(request_parser, slow_input_is_scanned_once) {
    // Fed one byte at a time, the parser resumes where it stopped: after each call it has
    // scanned exactly the bytes it was given, never fewer (a rescan would restart at 0).
    limits lim;
    std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
    while (in.size() < 15000) { // 15 fields of 1 KB
        in += "X-Field: " + std::string(1000, 'v') + "\r\n";
    }
    in += "\r\n";
    request_parser p(lim);
    request_head h;
    parse_result r = parse_result::more();
    std::size_t k = 0;
    while (r.what == parse_result::kind::need_more && k < in.size()) {
        r = p.parse(std::string_view(in).substr(0, ++k), h);
        if (r.what == parse_result::kind::need_more) {
            ASSERT_EQ(p.scanned(), k);
        }
    }
    ASSERT_EQ(r.what, parse_result::kind::complete);
    EXPECT_EQ(r.consumed, in.size());
}

TEST(request_parser, garbage_is_refused_at_its_first_byte) {
    // A TLS ClientHello has no LF: it must not wait for the header timeout.
    request_head h;
    EXPECT_EQ(parse_all(std::string_view("\x16\x03\x01\x02\x00", 5), h).error,
              parse_error::bad_request_line);
    EXPECT_EQ(parse_all("GE(", h).error, parse_error::bad_method);
    EXPECT_EQ(parse_all(" GET", h).error, parse_error::bad_request_line);
    EXPECT_EQ(parse_all("GET", h).what, parse_result::kind::need_more);
    EXPECT_EQ(parse_all("\r\n\r\nGET", h).what, parse_result::kind::need_more);
}

TEST(request_parser, absolute_form_needs_a_host) {
    // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and must be rejected.
    for (const char* target : {"http://", "http:///", "http:///data", "https://", "https:///data",
                               "HTTP://", "http://?x", "https://?", "http://:80", "http://:80/data",
                               "http://@", "http://u@/", "http://u:p@:80/", "https://@?q"}) {
        request_head h;
        const std::string in = std::string("GET ") + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
        EXPECT_EQ(parse_all(in, h).error, parse_error::bad_target) << target;
    }
    struct ok_case {
        const char* target;
        const char* path;
        const char* query;
    };
    for (const ok_case& c :
         {ok_case{"http://h", "/", ""}, ok_case{"http://h/", "/", ""},
          ok_case{"HTTPS://h:8080/a?b", "/a", "b"}, ok_case{"http://h?x=1", "/", "x=1"},
          ok_case{"http://[::1]/d", "/d", ""}, ok_case{"http://[::1]:80?q", "/", "q"}}) {
        request_head h;
        const std::string in = std::string("GET ") + c.target + " HTTP/1.1\r\nHost: h\r\n\r\n";
        ASSERT_EQ(parse_all(in, h).what, parse_result::kind::complete) << c.target;
        EXPECT_EQ(h.path, c.path) << c.target;
        EXPECT_EQ(h.query, c.query) << c.target;
    }
}

TEST(request_parser, rebase_moves_views_with_the_buffer) {
    std::string a = "GET /x?q HTTP/1.1\r\nHost: h\r\n\r\n";
    request_head h;
    ASSERT_EQ(parse_all(a, h).what, parse_result::kind::complete);
    std::string b = a; // "moved" buffer
    h.rebase(a.data(), a.data() + a.size(), b.data());
    a.assign(a.size(), '#');
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.path, "/x");
    EXPECT_EQ(h.query, "q");
    EXPECT_EQ(h.fields[0].value, "h");
    EXPECT_EQ(h.method.data(), b.data());
}

TEST(request_parser, reset_parses_the_next_request) {
    const std::string in = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    const limits lim;
    request_parser p(lim);
    request_head h;
    const auto r1 = p.parse(in, h);
    ASSERT_EQ(r1.what, parse_result::kind::complete);
    EXPECT_EQ(h.path, "/1");
    p.reset();
    const auto r2 = p.parse(std::string_view(in).substr(r1.consumed), h);
    ASSERT_EQ(r2.what, parse_result::kind::complete);
    EXPECT_EQ(h.path, "/2");
}

TEST(parse_error_table, every_error_has_a_status_and_a_detail) {
    for (int i = 1; i <= static_cast<int>(parse_error::body_timeout); ++i) {
        const auto& info = describe(static_cast<parse_error>(i));
        EXPECT_GE(info.status, 400) << i;
        EXPECT_FALSE(info.detail.empty()) << i;
        EXPECT_TRUE(info.must_close) << i;
    }
}

} // namespace
} // namespace hs::http
