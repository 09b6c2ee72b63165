// Slow clients, the connection cap, client faults and memory bounds (bounded counts and times).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

TEST(hostile, slowloris_does_not_starve_normal_clients) {
    server_process s({"--header-timeout", "2", "--threads", "2", "--access-log", "off"});
    std::vector<client> slow;
    for (int i = 0; i < 500; ++i) {
        slow.emplace_back(s.port());
    }
    const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ";
    const auto start = std::chrono::steady_clock::now();
    // Trickle one byte a second to each; meanwhile normal clients must be answered promptly.
    for (std::size_t second = 0; second < 4; ++second) {
        for (auto& c : slow) {
            c.send(std::string_view(head).substr(second, 1));
        }
        for (int i = 0; i < 10; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            ASSERT_TRUE(serves(s.port()));
            EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
        }
        std::this_thread::sleep_until(start + std::chrono::seconds(second + 1));
    }
    // Past the 2 s header timeout every slow client got 408 and was closed.
    int got_408 = 0;
    for (auto& c : slow) {
        const auto r = c.read_response(2s);
        if (r && r->status == 408 && c.closed_by_server(2s)) {
            ++got_408;
        }
    }
    EXPECT_EQ(got_408, 500);
}

TEST(hostile, connection_cap_refuses_cleanly_and_recovers) {
    server_process s({"--max-connections", "10", "--threads", "1", "--access-log", "off"});
    std::vector<client> held;
    for (int i = 0; i < 10; ++i) {
        held.emplace_back(s.port());
        held.back().send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(held.back().read_response());
    }
    {
        client extra(s.port());
        const auto r = extra.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 503);
        EXPECT_EQ(r->header("Content-Type"), "application/problem+json");
        EXPECT_TRUE(extra.closed_by_server());
    }
    for (auto& c : held) { // existing connections keep working
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    while (held.size() > 5) {
        held.pop_back();
    }
    // Load dropped: up to the cap again, twice (closes are reaped asynchronously, so wait a bit).
    for (int wave = 0; wave < 2; ++wave) {
        std::this_thread::sleep_for(200ms);
        std::vector<client> fresh;
        for (int i = 0; i < 5; ++i) {
            fresh.emplace_back(s.port());
            fresh.back().send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        for (auto& c : fresh) {
            const auto r = c.read_response();
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200) << "wave " << wave;
        }
    }
}

TEST(hostile, client_faults_leave_no_descriptor_behind) {
    server_process s({"--threads", "2", "--access-log", "off"});
    ASSERT_TRUE(serves(s.port()));
    std::this_thread::sleep_for(100ms);
    const std::size_t baseline = s.open_fds();
    // a big store so that GET /data is a large response
    for (int i = 0; i < 200; ++i) {
        request_once(s.port(),
                     "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 1010\r\n\r\n{\"p\":\"" +
                         std::string(1002, 'x') + "\"}");
    }
    for (int round = 0; round < 20; ++round) {
        {
            client c(s.port());
            c.send("GET / HTTP/1.1\r\nHo");
        } // mid-header
        {
            client c(s.port());
            c.send("POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{");
        } // mid-body
        {
            client c(s.port());
            c.send("GET /data HTTP/1.1\r\nHost: a\r\n\r\n");
        } // mid-response
        {
            client c(s.port());
            c.send("GET /data HTTP/1.1\r\nHost: a\r\n\r\n");
            c.reset();
        } // RST
        {
            client c(s.port()); // half-close: the answer still comes
            c.send("GET /echo?message=half HTTP/1.1\r\nHost: a\r\n\r\n");
            c.shutdown_write();
            const auto r = c.read_response();
            ASSERT_TRUE(r);
            EXPECT_EQ(r->body, "half");
            EXPECT_TRUE(c.closed_by_server());
        }
        {
            client c(s.port()); // pipelined then close without reading
            std::string batch;
            for (int i = 0; i < 50; ++i) {
                batch += "GET /data HTTP/1.1\r\nHost: a\r\n\r\n";
            }
            c.send(batch);
        }
    }
    ASSERT_TRUE(serves(s.port()));
    std::size_t now = 0;
    for (int i = 0; i < 50; ++i) { // closes are asynchronous: give the loop a moment
        now = s.open_fds();
        if (now <= baseline) {
            break;
        }
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_LE(now, baseline);
    EXPECT_TRUE(s.running());
}

TEST(hostile, ten_thousand_bad_requests_do_not_grow_memory) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "ASan's quarantine keeps freed memory resident; the debug build checks this";
#endif
    server_process s({"--threads", "1", "--access-log", "off"});
    const std::vector<std::string> bad = {
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "POST /data HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: " + std::string(17000, 'b') + "\r\n\r\n",
        "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{\"a\":\"\xff\xfe\"}",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    auto run = [&](int n) {
        for (int i = 0; i < n; ++i) {
            client c(s.port());
            c.send(bad[static_cast<std::size_t>(i) % bad.size()]);
            (void)c.read_response(1s);
        }
    };
    run(1000); // warm up pools and allocator
    const std::size_t before = s.rss_kib();
    run(10000);
    const std::size_t after = s.rss_kib();
    std::printf("RSS after 1,000 warm-up bad requests: %zu KiB; after 10,000 more: %zu KiB\n",
                before, after);
    EXPECT_LT(after, before + 2048) << "RSS grew from " << before << " KiB to " << after << " KiB";
    EXPECT_TRUE(serves(s.port()));
}

TEST(hostile, never_dies_of_sigpipe) {
    server_process s({"--threads", "1", "--access-log", "off"});
    for (int i = 0; i < 200; ++i) {
        request_once(s.port(), "POST /data HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    }
    for (int i = 0; i < 200; ++i) {
        client c(s.port());
        c.send("GET /data HTTP/1.1\r\nHost: a\r\n\r\nGET /data HTTP/1.1\r\nHost: a\r\n\r\n");
        c.reset();
    }
    EXPECT_TRUE(s.running());
    EXPECT_TRUE(serves(s.port()));
}

} // namespace
} // namespace hs::test
