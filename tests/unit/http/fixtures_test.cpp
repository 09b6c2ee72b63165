// Every fixture through the parsing pipeline: whole, then split at every byte, then against a
// guard page. The same files drive the end-to-end tests and seed the fuzzer.
#include <gtest/gtest.h>

#include "support/fixtures.hpp"
#include "support/guarded_buffer.hpp"
#include "support/pipeline.hpp"

namespace hs::test {
namespace {

/// What the pipeline must say for a fixture: a protocol error (the connection closes with an
/// error status) or a complete request (routing and the app decide the rest).
bool expects_parse_error(const fixture& f) {
    return f.close && f.status >= 400;
}

void check(const fixture& f, const outcome& o, const std::string& how) {
    SCOPED_TRACE(f.file + ": " + f.name + " (" + how + ")");
    if (expects_parse_error(f)) {
        ASSERT_EQ(o.what, outcome::kind::error);
        EXPECT_EQ(o.status, f.status) << http::describe(o.error).detail;
    } else {
        ASSERT_EQ(o.what, outcome::kind::complete)
            << (o.what == outcome::kind::error ? http::describe(o.error).detail : "need more");
        if (f.has_body) {
            EXPECT_EQ(o.body, f.body);
        }
    }
}

class fixture_test : public ::testing::TestWithParam<fixture> {};

TEST_P(fixture_test, whole) {
    const fixture& f = GetParam();
    limits lim;
    pipeline p(lim);
    std::string buf = f.raw;
    check(f, p.feed(buf), "whole");
}

TEST_P(fixture_test, split_at_every_byte) {
    const fixture& f = GetParam();
    limits lim;
    for (std::size_t k = 0; k < f.raw.size(); ++k) {
        pipeline p(lim);
        std::string buf = f.raw.substr(0, k);
        const outcome first = p.feed(buf);
        if (first.what == outcome::kind::error) {
            check(f, first, "error at split " + std::to_string(k));
            continue;
        }
        if (first.what == outcome::kind::complete) {
            // A request may end before the fixture does only when bytes follow it.
            ASSERT_LE(first.consumed, k);
            continue;
        }
        buf += f.raw.substr(k);
        check(f, p.feed(buf), "split at " + std::to_string(k));
    }
}

TEST_P(fixture_test, byte_by_byte) {
    const fixture& f = GetParam();
    limits lim;
    pipeline p(lim);
    std::string buf;
    outcome o;
    for (const char c : f.raw) {
        buf += c;
        o = p.feed(buf);
        if (o.what != outcome::kind::need_more) {
            break;
        }
    }
    check(f, o, "byte by byte");
}

TEST_P(fixture_test, head_parser_never_reads_past_input) {
    const fixture& f = GetParam();
    limits lim;
    for (std::size_t k = 1; k <= f.raw.size(); ++k) {
        guarded_buffer g(std::string_view(f.raw).substr(0, k));
        http::request_parser parser(lim);
        http::request_head head;
        (void)parser.parse(g.view(), head); // must not fault
    }
}

std::string name_of(const ::testing::TestParamInfo<fixture>& info) {
    return fixture_test_name(info.param, info.index);
}

INSTANTIATE_TEST_SUITE_P(requests, fixture_test, ::testing::ValuesIn(load_fixtures()), name_of);

} // namespace
} // namespace hs::test
