// Operations through the real binary: the /livez and /readyz probes, readiness through a
// SIGTERM drain with --shutdown-delay, a second signal, and SIGUSR1 reopening the access log
// under load with every line accounted for.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

std::optional<http_response> get(std::uint16_t port, const std::string& target) {
    return request_once(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST(probes, livez_and_readyz_answer_ok_and_verbose_lists_each_check) {
    server_process s;
    for (const char* target : {"/livez", "/readyz"}) {
        const auto r = get(s.port(), target);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << target;
        EXPECT_EQ(r->body, "ok\n");
        EXPECT_EQ(r->header("Cache-Control").value_or(""), "no-store");
    }
    const auto v = get(s.port(), "/readyz?verbose");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->status, 200);
    EXPECT_EQ(v->body,
              "[+]ping ok\n[+]started ok\n[+]shutdown ok\n[+]store ok\nreadyz check passed\n");
    client c(s.port());
    ASSERT_TRUE(c.send("HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto head = c.read_response(5s, true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    const auto post =
        request_once(s.port(), "POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    EXPECT_TRUE(serves(s.port()));
}

TEST(probes, on_sigterm_readyz_fails_at_once_while_serving_for_the_shutdown_delay) {
    server_process s({"--shutdown-delay", "1.5"});
    ASSERT_EQ(get(s.port(), "/readyz")->status, 200);
    const auto began = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
    std::this_thread::sleep_for(150ms);
    const auto r = get(s.port(), "/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->header("Content-Type").value_or(""), "application/problem+json");
    EXPECT_NE(r->body.find("shutting down"), std::string::npos) << r->body;
    const auto v = get(s.port(), "/readyz?verbose");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->status, 503);
    EXPECT_NE(v->body.find("[-]shutdown failed: the server is shutting down\n"), std::string::npos);
    EXPECT_EQ(get(s.port(), "/livez")->status, 200);
    // New connections are still accepted during the delay, and every response asks the client
    // (a balancer's pooled connection) to go away.
    const auto root = get(s.port(), "/");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->status, 200);
    EXPECT_EQ(root->header("Connection").value_or(""), "close");
    // Then it drains and exits 0, not before the delay.
    EXPECT_EQ(s.stop(0, 10s), 0);
    EXPECT_GE(std::chrono::steady_clock::now() - began, 1400ms);
}

TEST(probes, sigint_does_not_wait_for_the_shutdown_delay) {
    server_process s({"--shutdown-delay", "30"});
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(s.stop(SIGINT, 10s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(probes, a_second_signal_exits_at_once) {
    server_process s({"--shutdown-delay", "30"});
    ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(get(s.port(), "/readyz")->status, 503);
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(s.stop(SIGINT, 5s), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);
}

std::size_t count_lines(const std::string& path, std::string& bad) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (!text.empty() && text.back() != '\n') {
        bad = "torn last line in " + path;
    }
    std::size_t n = 0;
    std::istringstream lines(text);
    std::string line;
    static const std::regex combined(
        R"re(^127\.0\.0\.1 - - \[[^\]]+\] "GET /echo\?message=[0-9a-z]+ HTTP/1\.1" 200 \d+ "-" "-" \d+\.\d{3}$)re");
    while (std::getline(lines, line)) {
        if (!std::regex_match(line, combined) && bad.empty()) {
            bad = "a malformed line in " + path + ": " + line;
        }
        ++n;
    }
    return n;
}

TEST(access_log, sigusr1_reopens_it_under_load_and_no_line_is_lost_duplicated_or_torn) {
    server_process s({"-t", "2"});
    const std::string log = s.log_path();
    constexpr int clients = 4;
    constexpr int each = 1500;
    std::atomic<int> answered{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < clients; ++t) {
        ts.emplace_back([&, t] {
            client c(s.port());
            for (int i = 0; i < each && !failed.load(); ++i) {
                const std::string msg = "c" + std::to_string(t) + "n" + std::to_string(i);
                const bool sent =
                    c.send("GET /echo?message=" + msg + " HTTP/1.1\r\nHost: x\r\n\r\n");
                const auto r = sent ? c.read_response() : std::nullopt;
                if (!r || r->status != 200) {
                    failed = true;
                    return;
                }
                ++answered;
            }
        });
    }
    // Two rotations while the clients run: rename, then SIGUSR1, as logrotate does. Each waits
    // for the file the previous reopen created; every wait is bounded.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::string trouble;
    for (int k = 1; k <= 2 && trouble.empty(); ++k) {
        while (answered.load() < k * clients * each / 3 && !failed.load() &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
        }
        while (!std::filesystem::exists(log) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
        }
        std::error_code ec;
        std::filesystem::rename(log, log + "." + std::to_string(k), ec);
        if (ec || ::kill(s.pid(), SIGUSR1) != 0) {
            trouble = "rotation " + std::to_string(k) + " failed: " + ec.message();
        }
    }
    for (auto& t : ts) {
        t.join();
    }
    ASSERT_EQ(trouble, "");
    ASSERT_FALSE(failed.load()) << "a request failed during the rotations";
    ASSERT_EQ(s.stop(), 0);
    std::string bad;
    const std::size_t first = count_lines(log + ".1", bad);
    const std::size_t second = count_lines(log + ".2", bad);
    const std::size_t current = count_lines(log, bad);
    EXPECT_EQ(bad, "");
    EXPECT_GT(first, 0u);
    EXPECT_GT(second, 0u) << "the first reopen did not happen";
    EXPECT_GT(current, 0u) << "the second reopen did not happen";
    EXPECT_EQ(first + second + current, static_cast<std::size_t>(clients * each));
}

} // namespace
} // namespace hs::test
