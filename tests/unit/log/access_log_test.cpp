#include "hs/access_log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "log/async_sink.hpp"

namespace hs {
namespace {

access_record sample() {
    access_record r;
    r.peer = "127.0.0.1";
    r.method = "GET";
    r.target = "/echo?message=\"hi\"";
    r.version_minor = 1;
    r.status = 200;
    r.body_bytes = 4;
    r.user_agent = "curl/8";
    r.time = std::chrono::system_clock::from_time_t(784111777);
    r.duration = std::chrono::microseconds(1500);
    return r;
}

TEST(access_log, combined_matches_nginx_plus_duration) {
    std::string out;
    format_access_line(out, sample(), access_log_format::combined);
    EXPECT_EQ(
        out,
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /echo?message=\\x22hi\\x22 HTTP/1.1\" "
        "200 4 \"-\" \"curl/8\" 0.002\n");
}

TEST(access_log, json_is_one_object_per_line) {
    std::string out;
    access_record r = sample();
    r.user_agent = "a\xff";
    format_access_line(out, r, access_log_format::json);
    EXPECT_EQ(out,
              R"({"time":"1994-11-06T08:49:37Z","remote_addr":"127.0.0.1","method":"GET",)"
              R"("target":"/echo?message=\"hi\"","protocol":"HTTP/1.1","status":200,"bytes":4,)"
              R"("duration_ms":1.500,"referer":"","user_agent":"a\u00ff"})"
              "\n");
}

TEST(access_log, request_without_a_line) {
    std::string out;
    access_record r = sample();
    r.method = {};
    r.version_minor = -1;
    r.status = 400;
    format_access_line(out, r, access_log_format::combined);
    EXPECT_NE(out.find("] \"-\" 400 "), std::string::npos) << out;
}

TEST(async_sink, writes_every_line_across_threads) {
    char path[] = "/tmp/hs-log-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        auto sink = log::async_sink::open(path);
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t) {
            ts.emplace_back([&, t] {
                for (int i = 0; i < 2000; ++i) {
                    sink->submit("t" + std::to_string(t) + " line " + std::to_string(i) + "\n");
                }
            });
        }
        for (auto& th : ts) {
            th.join();
        }
        EXPECT_TRUE(sink->flush(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
        EXPECT_EQ(sink->dropped_lines(), 0u);
    }
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
    }
    EXPECT_EQ(n, 8000);
    std::remove(path);
}

} // namespace
} // namespace hs
