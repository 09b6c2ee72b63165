// Faults a review found in the engine, each reproduced end to end on the real binary: a steady
// slow upload, a blocked log output, a second instance on the same port, the 503 past the cap.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <string>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

const std::string get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

TEST(faults, a_body_trickled_steadily_past_the_header_timeout_gets_through) {
    // The body deadline is the longest stall, not the whole upload: 16 bytes, one every 200 ms
    // (3.2 s) against a 1 s header timeout.
    server_process srv({"--header-timeout", "1"});
    client c(srv.port());
    const std::string body = R"({"a":"trickled"})";
    ASSERT_EQ(body.size(), 16u);
    ASSERT_TRUE(c.send("POST /data HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 16\r\n\r\n"));
    for (const char ch : body) {
        std::this_thread::sleep_for(200ms); // the pace of the upload, not a synchronisation
        ASSERT_TRUE(c.send(std::string_view(&ch, 1)));
    }
    const auto r = c.read_response(10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    EXPECT_NE(r->body.find("trickled"), std::string::npos);
    EXPECT_TRUE(serves(srv.port()));
}

TEST(faults, a_body_that_stalls_longer_than_the_header_timeout_gets_408) {
    server_process srv({"--header-timeout", "1"});
    client c(srv.port());
    ASSERT_TRUE(c.send("POST /data HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n{\"a\""));
    const auto r = c.read_response(10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(c.closed_by_server(5s));
    EXPECT_TRUE(serves(srv.port()));
}

TEST(faults, a_second_instance_on_the_same_port_exits_1_naming_the_address) {
    server_process first;
    const std::string port = std::to_string(first.port());
    const run_result second = run_binary("--port " + port + " --access-log off");
    EXPECT_EQ(second.status, 1) << second.output;
    EXPECT_NE(second.output.find("cannot listen on 127.0.0.1:" + port), std::string::npos)
        << second.output;
    EXPECT_NE(second.output.find("in use"), std::string::npos) << second.output;
    EXPECT_TRUE(serves(first.port()));
    // Also when only the second one asks to share: the first did not offer it.
    const run_result sharing = run_binary("--port " + port + " --reuse-port --access-log off");
    EXPECT_EQ(sharing.status, 1) << sharing.output;
}

TEST(faults, with_reuse_port_two_instances_share_the_port) {
    server_process first({"--reuse-port"});
    const std::string port = std::to_string(first.port());
    server_process second({"--reuse-port", "--port", port});
    EXPECT_EQ(second.port(), first.port());
    EXPECT_TRUE(serves(first.port()));
    EXPECT_EQ(second.stop(), 0);
    EXPECT_EQ(first.stop(), 0);
}

TEST(faults, past_the_cap_a_client_that_sent_a_request_reads_the_503_then_a_clean_close) {
    server_process srv({"--max-connections", "1", "--threads", "1"});
    client held(srv.port());
    ASSERT_TRUE(held.send(get_root));
    ASSERT_TRUE(held.read_response()); // accepted: it holds the only place
    for (int round = 0; round < 5; ++round) {
        client refused(srv.port());
        // The request goes out at once, so it is (usually) unread when the 503 is sent.
        ASSERT_TRUE(refused.send(get_root + get_root));
        // Wait for the server to end its side: a FIN (lingering close) or a reset.
        pollfd p{refused.fd(), POLLRDHUP, 0};
        ASSERT_EQ(::poll(&p, 1, 5000), 1);
        std::string got;
        bool reset = false;
        for (;;) {
            char buf[4096];
            const ssize_t n = ::recv(refused.fd(), buf, sizeof buf, 0);
            if (n > 0) {
                got.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            reset = n < 0 && errno == ECONNRESET;
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                ::poll(&p, 1, 1000);
                continue;
            }
            break;
        }
        EXPECT_EQ(got.rfind("HTTP/1.1 503 ", 0), 0u) << got;
        EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
        EXPECT_EQ(got.find("Date:"), std::string::npos) << "a prebuilt 503 has no current Date";
        EXPECT_FALSE(reset) << "the 503 was followed by a reset, not a clean close";
    }
    // The held connection still works, and once it closes a new one is served.
    ASSERT_TRUE(held.send(get_root));
    EXPECT_TRUE(held.read_response());
}

/// Counts complete lines in \p text.
std::size_t lines_in(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

/// Sends \p n keep-alive GETs on one connection, each answered before the next.
int answered_in_a_row(std::uint16_t port, int n) {
    client c(port);
    for (int i = 0; i < n; ++i) {
        if (!c.send(get_root)) {
            return i;
        }
        const auto r = c.read_response(10s);
        if (!r || r->status != 200) {
            return i;
        }
    }
    return n;
}

TEST(faults, a_blocked_log_output_stalls_no_request_and_no_shutdown) {
    // Standard output is a pipe nobody reads: it fills after about 64 KiB of log lines.
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const int requests = 3000; // about 250 KiB of lines
    std::size_t dropped = 0;
    {
        server_process srv({"--access-log", "-", "--shutdown-timeout", "2", "--threads", "1"},
                           fds[1]);
        ::close(fds[1]);
        EXPECT_EQ(answered_in_a_row(srv.port(), requests), requests);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(srv.stop(SIGTERM, 30s), 0);
        const auto took = std::chrono::steady_clock::now() - t0;
        // Within the shutdown timeout (2 s) plus room for a slow, sanitized process.
        EXPECT_LT(took, 10s);
        const std::string err = srv.read_stderr();
        std::smatch m;
        ASSERT_TRUE(std::regex_search(err, m, std::regex("([0-9]+) lines were dropped in all")))
            << err;
        dropped = std::stoul(m[1]);
    }
    // Every line is either in the pipe or counted as dropped: none vanished unaccounted.
    std::string written;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
        written.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    EXPECT_GT(dropped, 0u);
    EXPECT_EQ(lines_in(written) + dropped, static_cast<std::size_t>(requests));
    EXPECT_TRUE(written.empty() || written.back() == '\n') << "a torn last line";
}

TEST(faults, a_non_blocking_log_output_that_is_slow_loses_no_line) {
    // A non-blocking stdout (as some supervisors hand over) says EAGAIN when full; the writer
    // must wait for room, not drop the batch.
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ASSERT_EQ(::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK), 0);
    std::string written;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        char buf[4096];
        for (;;) {
            pollfd p{fds[0], POLLIN, 0};
            if (::poll(&p, 1, 100) == 0) {
                if (done) {
                    return;
                }
                continue;
            }
            const ssize_t n = ::read(fds[0], buf, sizeof buf);
            if (n <= 0) {
                return;
            }
            written.append(buf, static_cast<std::size_t>(n));
            std::this_thread::sleep_for(2ms); // a slow reader: the pipe fills now and then
        }
    });
    const int requests = 3000;
    {
        server_process srv({"--access-log", "-", "--threads", "1"}, fds[1]);
        ::close(fds[1]);
        EXPECT_EQ(answered_in_a_row(srv.port(), requests), requests);
        EXPECT_EQ(srv.stop(SIGTERM, 60s), 0);
        const std::string err = srv.read_stderr();
        EXPECT_EQ(err.find("dropped"), std::string::npos) << err;
        EXPECT_EQ(err.find("failed"), std::string::npos) << err;
    }
    done = true;
    reader.join();
    ::close(fds[0]);
    EXPECT_EQ(lines_in(written), static_cast<std::size_t>(requests));
}

} // namespace
} // namespace hs::test
