// SIGTERM: stop accepting, finish in-flight requests, flush the log, exit 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        out.push_back(line);
    }
    return out;
}

/// Polls until a connection to \p port is refused, i.e. the server has shut its listener down;
/// false if it still accepts after \p timeout. A probe that connects sends nothing (no request,
/// no log line) and is closed at once.
bool refuses_connections(std::uint16_t port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            client probe(port);
        } catch (const std::exception&) {
            return true; // connect() refused
        }
        std::this_thread::sleep_for(10ms); // polling interval, not a guess at the server's pace
    }
    return false;
}

/// Sends a request head with `Expect: 100-continue` and reads the 100: the server has then
/// parsed the head and is reading the body, so the request is in flight (no sleep to guess it).
void start_body(client& c, std::size_t content_length) {
    ASSERT_TRUE(c.send("POST /data HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                       "Content-Length: " +
                       std::to_string(content_length) + "\r\n\r\n"));
    const auto interim = c.read_response();
    ASSERT_TRUE(interim);
    ASSERT_EQ(interim->status, 100);
}

TEST(shutdown, n_requests_leave_n_parseable_log_lines) {
    server_process s({"--threads", "2"});
    constexpr int connections = 10;
    constexpr int per_connection = 100;
    std::vector<std::thread> ts;
    for (int t = 0; t < connections; ++t) {
        ts.emplace_back([&, t] {
            client c(s.port());
            for (int i = 0; i < per_connection; ++i) {
                c.send("GET /echo?message=" + std::to_string(t) + "-" + std::to_string(i) +
                       " HTTP/1.1\r\nHost: a\r\nUser-Agent: test \"agent\"\r\n\r\n");
                ASSERT_TRUE(c.read_response());
            }
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    ASSERT_EQ(s.stop(SIGTERM), 0);
    const auto lines = lines_of(s.read_log());
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(connections * per_connection));
    const std::regex combined(
        R"re(^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /echo\?message=\d+-\d+ HTTP/1\.1" 200 \d+ "-" "test \\x22agent\\x22" \d+\.\d{3}$)re");
    for (const auto& l : lines) {
        ASSERT_TRUE(std::regex_match(l, combined)) << l;
    }
}

TEST(shutdown, json_log_lines_parse) {
    server_process s({"--access-log-format", "json", "--threads", "1"});
    for (int i = 0; i < 20; ++i) {
        request_once(s.port(),
                     "GET /nowhere?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    request_once(s.port(), "GARBAGE\r\n\r\n");
    ASSERT_EQ(s.stop(SIGTERM), 0);
    const auto lines = lines_of(s.read_log());
    ASSERT_EQ(lines.size(), 21u);
    for (const auto& l : lines) {
        const auto j = nlohmann::json::parse(l);
        EXPECT_TRUE(j.contains("time") && j.contains("remote_addr") && j.contains("duration_ms"));
        EXPECT_TRUE(j["status"] == 404 || j["status"] == 400) << l;
    }
}

TEST(shutdown, in_flight_request_finishes_then_exit_0) {
    server_process s({"--threads", "1"});
    client c(s.port());
    ASSERT_NO_FATAL_FAILURE(start_body(c, 7));
    c.send("{\"a\"");
    ::kill(s.pid(), SIGTERM);
    ASSERT_TRUE(refuses_connections(s.port(), 10s)); // the signal was taken: stopped accepting
    EXPECT_FALSE(serves_quietly(s.port()));          // no longer accepting
    c.send(":1}");
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(s.stop(0), 0); // waits: a second SIGTERM would exit at once (status 1)
    EXPECT_EQ(lines_of(s.read_log()).size(), 1u);
}

TEST(shutdown, idle_connections_do_not_delay_exit) {
    // A long shutdown deadline, so that waiting for it could not pass for closing at once.
    server_process s({"--threads", "2", "--shutdown-timeout", "30"});
    std::vector<client> idle;
    for (int i = 0; i < 50; ++i) {
        idle.emplace_back(s.port());
        idle.back().send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(idle.back().read_response());
    }
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(s.stop(SIGTERM, 40s), 0);
    // Milliseconds when idle connections are closed at once; the 30 s deadline otherwise.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    for (auto& c : idle) {
        EXPECT_TRUE(c.closed_by_server()); // the process is gone: its sockets are closed
    }
}

TEST(shutdown, deadline_bounds_a_stuck_client) {
    // The body stall limit (--header-timeout) is far past the 1 s shutdown deadline, so only the
    // deadline can end the stuck request in time.
    server_process s({"--threads", "1", "--shutdown-timeout", "1", "--header-timeout", "60"});
    client c(s.port());
    ASSERT_NO_FATAL_FAILURE(start_body(c, 100));
    c.send("{"); // never finished
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(s.stop(SIGTERM), 0);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 900ms); // the request was in flight: held until the deadline, not dropped
    EXPECT_LT(took, 8s);    // about 1 s: the deadline, not the 60 s body timeout
}

TEST(shutdown, sigint_also_drains) {
    server_process s({"--threads", "1"});
    ASSERT_TRUE(serves(s.port()));
    EXPECT_EQ(s.stop(SIGINT), 0);
    EXPECT_EQ(lines_of(s.read_log()).size(), 1u);
}

} // namespace
} // namespace hs::test
