// API.md "Protocol behaviour", rule by rule, against the real binary in raw bytes.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "e2e/server_process.hpp"
#include "support/fixtures.hpp"

namespace hs::test {
namespace {

class protocol : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<server_process>(std::vector<std::string>{"--threads", "2"});
    }
    static void TearDownTestSuite() { server_.reset(); }
    static std::uint16_t port() { return server_->port(); }
    static std::unique_ptr<server_process> server_;
};
std::unique_ptr<server_process> protocol::server_;

// ---- fixtures: exact status, close or keep-alive, and the server still serves ----

class protocol_fixture : public protocol, public ::testing::WithParamInterface<fixture> {};

TEST_P(protocol_fixture, status_and_connection) {
    const fixture& f = GetParam();
    client c(port());
    c.send(f.raw);
    const auto r = c.read_response(5s, f.raw.rfind("HEAD", 0) == 0);
    ASSERT_TRUE(r.has_value()) << "no response";
    EXPECT_EQ(r->status, f.status) << r->body;
    if (f.close) {
        EXPECT_TRUE(c.closed_by_server()) << "the connection should close";
    } else {
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        const auto again = c.read_response();
        ASSERT_TRUE(again.has_value()) << "the connection should stay open";
        EXPECT_EQ(again->status, 200);
    }
    EXPECT_TRUE(serves(port()));
}

std::string fixture_name(const ::testing::TestParamInfo<fixture>& info) {
    return fixture_test_name(info.param, info.index);
}
INSTANTIATE_TEST_SUITE_P(requests, protocol_fixture, ::testing::ValuesIn(load_fixtures()),
                         fixture_name);

// ---- headers every response has ----

TEST_F(protocol, every_response_has_date_server_and_length) {
    for (const char* raw : {"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                            "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\n\r\n"}) {
        const auto r = request_once(port(), raw);
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->header("Date").has_value());
        EXPECT_EQ(r->header("Server"), "http_server");
        EXPECT_EQ(r->header("Content-Length"), std::to_string(r->body.size()));
        EXPECT_TRUE(r->header("Content-Type").has_value());
    }
}

TEST_F(protocol, errors_are_problem_json) {
    const auto r = request_once(port(), "GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("Content-Type"), "application/problem+json");
    EXPECT_NE(r->body.find(R"("status":400)"), std::string::npos);
    EXPECT_NE(r->body.find(R"("detail":"whitespace between)"), std::string::npos) << r->body;
}

TEST_F(protocol, head_has_get_headers_and_no_body) {
    client c(port());
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /echo?message=x "
           "HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto get = c.read_response();
    const auto head = c.read_response(5s, true);
    const auto next = c.read_response();
    ASSERT_TRUE(get && head && next);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("Content-Length"), get->header("Content-Length"));
    EXPECT_EQ(head->header("Content-Type"), get->header("Content-Type"));
    EXPECT_TRUE(head->body.empty());
    EXPECT_EQ(next->body, "x"); // nothing of a body was sent after HEAD's headers
}

// ---- persistence and pipelining ----

TEST_F(protocol, http10_keep_alive_is_acknowledged) {
    client c(port());
    c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Connection"), "keep-alive");
    c.send("GET / HTTP/1.0\r\n\r\n");
    const auto r2 = c.read_response();
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->header("Connection"), "close");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(protocol, hundred_pipelined_requests_in_one_write_answered_in_order) {
    client c(port());
    std::string batch;
    for (int i = 0; i < 100; ++i) {
        batch += "GET /echo?message=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    }
    c.send(batch);
    for (int i = 0; i < 100; ++i) {
        const auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, std::to_string(i));
    }
}

TEST_F(protocol, pipelined_requests_with_bodies_and_a_final_close) {
    client c(port());
    c.send("POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
           "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
           "chunked\r\n\r\n7\r\n{\"b\":2}\r\n0\r\n\r\n"
           "GET /echo?message=last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
           "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto a = c.read_response();
    const auto b = c.read_response();
    const auto last = c.read_response();
    ASSERT_TRUE(a && b && last);
    EXPECT_EQ(a->status, 201);
    EXPECT_NE(a->body.find(R"("a":1)"), std::string::npos);
    EXPECT_EQ(b->status, 201);
    EXPECT_NE(b->body.find(R"("b":2)"), std::string::npos);
    EXPECT_EQ(last->body, "last");
    EXPECT_EQ(last->header("Connection"), "close");
    EXPECT_TRUE(c.closed_by_server()); // the request after Connection: close is not answered
}

TEST_F(protocol, pipelined_past_the_output_high_water_mark_then_half_close_all_answered) {
    // 50 responses of ~200 KB each overflow the 256 KiB output mark many times over; the
    // client then half-closes: every request must still be answered before the close.
    for (int i = 0; i < 200; ++i) {
        request_once(port(),
                     "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 1010\r\n\r\n{\"p\":\"" +
                         std::string(1002, 'x') + "\"}");
    }
    client c(port());
    std::string batch;
    for (int i = 0; i < 50; ++i) {
        batch += "GET /data HTTP/1.1\r\nHost: a\r\n\r\n";
    }
    batch += "GET /echo?message=last HTTP/1.1\r\nHost: a\r\n\r\n";
    c.send(batch);
    c.shutdown_write();
    for (int i = 0; i < 50; ++i) {
        const auto r = c.read_response(10s);
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->status, 200);
        ASSERT_GT(r->body.size(), 200000u);
    }
    const auto last = c.read_response(10s);
    ASSERT_TRUE(last);
    EXPECT_EQ(last->body, "last");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(protocol, thousand_sequential_requests_on_one_connection) {
    client c(port());
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        const auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->status, 200) << i;
    }
}

TEST_F(protocol, two_hundred_concurrent_connections) {
    std::vector<client> clients;
    for (int i = 0; i < 200; ++i) {
        clients.emplace_back(port());
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        clients[i].send("GET /echo?message=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const auto r = clients[i].read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, std::to_string(i));
    }
}

// ---- limits, each with its own status ----

TEST_F(protocol, long_target_is_414) {
    const auto r =
        request_once(port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414);
    EXPECT_TRUE(serves(port()));
}

TEST_F(protocol, large_header_section_is_431) {
    const auto r = request_once(
        port(), "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(17000, 'v') + "\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(serves(port()));
}

TEST_F(protocol, too_many_fields_is_431) {
    std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 101; ++i) {
        raw += "X-" + std::to_string(i) + ": v\r\n";
    }
    const auto r = request_once(port(), raw + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(serves(port()));
}

TEST_F(protocol, hundred_fields_are_fine) {
    std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 99; ++i) {
        raw += "X-" + std::to_string(i) + ": v\r\n";
    }
    const auto r = request_once(port(), raw + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(protocol, chunked_body_over_the_limit_is_413_before_it_is_buffered) {
    client c(port());
    c.send("POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    int sent = 0;
    while (sent < 20 && c.send(chunk)) { // 1.25 MiB: past the 1 MiB limit
        ++sent;
    }
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(serves(port()));
}

TEST_F(protocol, body_exactly_at_the_limit_is_read) {
    const std::string body = "{\"a\":\"" + std::string(1024 * 1024 - 8, 'x') + "\"}";
    ASSERT_EQ(body.size(), 1024u * 1024u);
    const auto r = request_once(port(), "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                                            std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
}

// ---- Expect ----

TEST_F(protocol, expect_100_continue_comes_before_the_body) {
    client c(port());
    c.send("POST /data HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n");
    const auto interim = c.read_response();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    c.send("{\"a\":1}");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
}

TEST_F(protocol, expect_100_continue_with_too_large_a_body_gets_413_not_100) {
    client c(port());
    c.send("POST /data HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: "
           "99999999\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.closed_by_server());
}

// ---- smuggling: one request's bytes never yield a second response ----

TEST_F(protocol, no_second_response_out_of_a_rejected_request) {
    const std::string smuggled = "GET /echo?message=SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::vector<std::string> attacks = {
        // CL.TE
        "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: "
        "chunked\r\n\r\n0\r\n\r\n" +
            smuggled,
        // TE.CL
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
        "4\r\n\r\n5c\r\n" +
            smuggled + "\r\n0\r\n\r\n",
        // TE.TE obfuscations
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: "
        "4\r\n\r\n0\r\n\r\n" +
            smuggled,
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
        "identity\r\n\r\n0\r\n\r\n" +
            smuggled,
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled,
        "POST /data HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
        // conflicting lengths
        "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 46\r\n\r\n" +
            smuggled,
        "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 46\r\n\r\n" + smuggled,
        // junk chunk sizes
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
        "chunked\r\n\r\n1ffffffffffffffff\r\n\r\n" +
            smuggled,
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n" +
            smuggled,
        // obs-fold hiding a header
        "POST /data HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\nContent-Length: "
        "0\r\n\r\n" +
            smuggled,
    };
    for (const auto& raw : attacks) {
        client c(port());
        c.send(raw);
        const std::string all = c.read_until_close(10s); // returns at the close, in ms
        EXPECT_EQ(all.rfind("HTTP/1.1 4", 0), 0u) << raw;
        EXPECT_EQ(all.find("SMUGGLED"), std::string::npos) << raw;
        std::size_t responses = 0;
        for (std::size_t p = all.find("HTTP/1.1 "); p != std::string::npos;
             p = all.find("HTTP/1.1 ", p + 1)) {
            ++responses;
        }
        EXPECT_EQ(responses, 1u) << raw;
    }
    EXPECT_TRUE(serves(port()));
}

// ---- timeouts (a server of their own, with short limits) ----

TEST(protocol_timeouts, partial_head_gets_408_then_close) {
    server_process s({"--header-timeout", "1", "--threads", "1"});
    client c(s.port());
    // Before the send: the server's deadline starts when it reads the first byte, after this.
    const auto start = std::chrono::steady_clock::now();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n");
    const auto r = c.read_response(10s);
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.closed_by_server());
    EXPECT_GE(waited, 900ms); // not before the 1 s header timeout (minus a tick)
    EXPECT_TRUE(serves(s.port()));
}

TEST(protocol_timeouts, stalled_body_gets_408) {
    server_process s({"--header-timeout", "1", "--threads", "1"});
    client c(s.port());
    c.send("POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{\"a\"");
    const auto r = c.read_response(10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(c.closed_by_server());
}

TEST(protocol_timeouts, idle_keep_alive_is_closed_silently) {
    server_process s({"--idle-timeout", "1", "--threads", "1"});
    client c(s.port());
    // Before the request: the idle deadline starts when the server has sent the response, after
    // this (a start taken after reading it could be late by however long this thread waited).
    const auto start = std::chrono::steady_clock::now();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_response());
    EXPECT_EQ(c.read_until_close(10s), ""); // closed without a byte
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 900ms); // not before the 1 s idle timeout (minus a tick)
    EXPECT_LT(waited, 8s);    // about 1 s: closed by the server, not read_until_close giving up
}

TEST(protocol_timeouts, silent_new_connection_is_closed_without_a_response) {
    server_process s({"--header-timeout", "1", "--threads", "1"});
    const auto start = std::chrono::steady_clock::now(); // before the connect, hence the accept
    client c(s.port());
    EXPECT_EQ(c.read_until_close(10s), ""); // closed without a byte
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 900ms); // not before the 1 s first-byte deadline (minus a tick)
    EXPECT_LT(waited, 8s);    // closed by the server, not read_until_close giving up
    EXPECT_TRUE(serves(s.port()));
}

} // namespace
} // namespace hs::test
