// Several instances, one PostgreSQL, nginx in front (scripts/balancer.sh): mixed writes with
// If-Match from eight clients through the balancer, then a model check through each instance;
// and one instance killed with SIGKILL while clients keep being served by the other.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "e2e/server_process.hpp"
#include "support/pg_cluster.hpp"

namespace hs::test {
namespace {

std::string run_script(const std::string& line) {
    FILE* p = ::popen((line + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) {
        out += buf;
    }
    const int rc = p != nullptr ? ::pclose(p) : -1;
    if (rc != 0) {
        throw std::runtime_error(line + " failed: " + out);
    }
    return out;
}

/// The data API answers (the database is connected): a read that is not a 503.
bool serves_data(std::uint16_t port) {
    const auto r = request_once(port, "GET /data/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    return r && r->status != 503;
}

/// Two instances on a fresh schema of the shared cluster, and nginx in front of them.
class cluster : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string schema = pg_cluster::fresh_schema();
        const std::string url = pg_cluster::shared().url();
        for (int i = 0; i < 2; ++i) {
            instances_.push_back(std::make_unique<server_process>(std::vector<std::string>{
                "--database-url", url, "--database-schema", schema, "-t", "2"}));
        }
        std::string tmpl = (std::filesystem::temp_directory_path() / "hs-lb-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        lb_dir_ = tmpl;
        const std::string port = run_script(
            std::string("bash ") + HS_SCRIPTS_DIR + "/balancer.sh start " + lb_dir_ + " " +
            std::to_string(instances_[0]->port()) + " " + std::to_string(instances_[1]->port()));
        lb_port_ = static_cast<std::uint16_t>(std::stoi(port));
        // Both instances connected to the database: a read through each answers.
        for (auto& s : instances_) {
            ASSERT_TRUE(wait_serving(s->port()));
        }
    }
    void TearDown() override {
        if (!lb_dir_.empty()) {
            run_script(std::string("bash ") + HS_SCRIPTS_DIR + "/balancer.sh stop " + lb_dir_);
            std::error_code ec;
            std::filesystem::remove_all(lb_dir_, ec);
        }
    }
    static bool wait_serving(std::uint16_t port) {
        for (int i = 0; i < 200; ++i) {
            if (serves_data(port)) {
                return true;
            }
            std::this_thread::sleep_for(25ms);
        }
        return false;
    }

    std::vector<std::unique_ptr<server_process>> instances_;
    std::string lb_dir_;
    std::uint16_t lb_port_ = 0;
};

/// A keep-alive connection that reconnects when the peer closed it.
class session {
public:
    explicit session(std::uint16_t port) : port_(port) {}
    std::optional<http_response> call(const std::string& method, const std::string& path,
                                      const std::string& body = "",
                                      const std::string& headers = "") {
        std::string raw = method + " " + path + " HTTP/1.1\r\nHost: cluster\r\n" + headers;
        if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
            raw +=
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n";
        }
        raw += "\r\n" + body;
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!c_) {
                try {
                    c_.emplace(port_);
                } catch (const std::exception&) {
                    return std::nullopt;
                }
            }
            if (c_->send(raw)) {
                if (auto r = c_->read_response(10s)) {
                    const auto conn = r->header("Connection");
                    if (conn && *conn == "close") {
                        c_.reset();
                    }
                    return r;
                }
            }
            c_.reset();
            if (method == "POST" || method == "PATCH") {
                return std::nullopt; // its outcome is unknown: never sent twice
            }
        }
        return std::nullopt;
    }

private:
    std::uint16_t port_;
    std::optional<client> c_;
};

int counter_of(const std::string& json) {
    const auto at = json.find("\"n\":");
    return at == std::string::npos ? -1 : std::stoi(json.substr(at + 4));
}

TEST_F(cluster, eight_clients_of_mixed_conditional_writes_lose_no_update_through_either_instance) {
    session setup(lb_port_);
    constexpr int counters = 4;
    for (int i = 0; i < counters; ++i) {
        const auto r = setup.call("POST", "/data", R"({"n":0})");
        ASSERT_TRUE(r && r->status == 201);
    }
    std::atomic<int> increments[counters] = {};
    std::mutex mu;
    std::map<std::uint64_t, std::string> created; // acknowledged, not deleted
    std::set<std::uint64_t> deleted;
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t) {
        ts.emplace_back([&, t] {
            session s(lb_port_);
            std::mt19937 rng(static_cast<unsigned>(t));
            std::vector<std::uint64_t> mine;
            for (int i = 0; i < 60; ++i) {
                const int kind = static_cast<int>(rng() % 10);
                if (kind < 6) { // read, then increment with If-Match; 412 means read again
                    const int c = static_cast<int>(rng() % counters) + 1;
                    for (int tries = 0; tries < 200; ++tries) {
                        const auto g = s.call("GET", "/data/" + std::to_string(c));
                        if (!g || g->status != 200 || !g->header("ETag")) {
                            ++failures;
                            break;
                        }
                        const int n = counter_of(g->body);
                        const auto w = s.call("PUT", "/data/" + std::to_string(c),
                                              "{\"n\":" + std::to_string(n + 1) + "}",
                                              "If-Match: " + *g->header("ETag") + "\r\n");
                        if (w && w->status == 200) {
                            ++increments[c - 1];
                            break;
                        }
                        if (!w || w->status != 412) {
                            ++failures;
                            break;
                        }
                    }
                } else if (kind < 9 || mine.empty()) {
                    const std::string body =
                        "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
                    const auto r = s.call("POST", "/data", body);
                    if (!r || r->status != 201) {
                        ++failures;
                        continue;
                    }
                    const std::uint64_t id = std::stoull(r->header("Location")->substr(6));
                    mine.push_back(id);
                    std::lock_guard lock(mu);
                    created[id] = r->body;
                } else { // delete one of mine with its ETag
                    const std::uint64_t id = mine.back();
                    mine.pop_back();
                    const auto g = s.call("GET", "/data/" + std::to_string(id));
                    const auto d = s.call("DELETE", "/data/" + std::to_string(id), "",
                                          "If-Match: " + g->header("ETag").value_or("*") + "\r\n");
                    if (!d || d->status != 204) {
                        ++failures;
                        continue;
                    }
                    std::lock_guard lock(mu);
                    created.erase(id);
                    deleted.insert(id);
                }
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    EXPECT_EQ(failures.load(), 0);
    // The model, through each instance directly.
    std::string listings[2];
    for (int k = 0; k < 2; ++k) {
        session s(instances_[k]->port());
        for (int c = 1; c <= counters; ++c) {
            const auto g = s.call("GET", "/data/" + std::to_string(c));
            ASSERT_TRUE(g && g->status == 200);
            EXPECT_EQ(counter_of(g->body), increments[c - 1].load()) << "a lost update on " << c;
            // Its version counts every write: the create and each increment.
            EXPECT_TRUE(g->header("ETag")->ends_with(
                "-" + std::to_string(increments[c - 1].load() + 1) + "\""))
                << *g->header("ETag");
        }
        for (const auto& [id, json] : created) {
            const auto g = s.call("GET", "/data/" + std::to_string(id));
            ASSERT_TRUE(g && g->status == 200) << "acknowledged item " << id << " lost";
            EXPECT_EQ(g->body, json);
        }
        for (const std::uint64_t id : deleted) {
            const auto g = s.call("GET", "/data/" + std::to_string(id));
            ASSERT_TRUE(g);
            EXPECT_EQ(g->status, 404);
        }
        const auto l = s.call("GET", "/data");
        ASSERT_TRUE(l && l->status == 200);
        listings[k] = l->body;
    }
    EXPECT_EQ(listings[0], listings[1]);
    EXPECT_GT(listings[0].size(), 100u);
}

TEST_F(cluster, with_one_instance_killed_clients_keep_being_served_by_the_other) {
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::atomic<int> ok_after_grace{0}, failed_after_grace{0};
    std::atomic<std::int64_t> grace_end_ms{0};
    std::mutex mu;
    std::vector<std::string> acked; // bodies of acknowledged creates, as stored
    std::vector<std::uint64_t> acked_ids;
    const auto now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    };
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
        ts.emplace_back([&, t] {
            session s(lb_port_);
            for (int i = 0; !stop.load(); ++i) {
                const bool write = i % 3 == 0;
                const auto r = write ? s.call("POST", "/data",
                                              "{\"t\":" + std::to_string(t) +
                                                  ",\"i\":" + std::to_string(i) + "}")
                                     : s.call("GET", "/");
                const bool good = r && (r->status == 201 || r->status == 200);
                if (good && write) {
                    std::lock_guard lock(mu);
                    acked.push_back(r->body);
                    acked_ids.push_back(std::stoull(r->header("Location")->substr(6)));
                }
                if (killed.load() && now_ms() > grace_end_ms.load()) {
                    (good ? ok_after_grace : failed_after_grace)++;
                }
            }
        });
    }
    std::this_thread::sleep_for(500ms);
    grace_end_ms = now_ms() + 1000; // nginx needs a failed attempt per connection to notice
    ::kill(instances_[0]->pid(), SIGKILL);
    killed = true;
    std::this_thread::sleep_for(2500ms);
    stop = true;
    for (auto& th : ts) {
        th.join();
    }
    EXPECT_GT(ok_after_grace.load(), 100);
    EXPECT_EQ(failed_after_grace.load(), 0);
    session s(instances_[1]->port());
    for (std::size_t i = 0; i < acked.size(); ++i) {
        const auto g = s.call("GET", "/data/" + std::to_string(acked_ids[i]));
        ASSERT_TRUE(g && g->status == 200) << "acknowledged item " << acked_ids[i] << " lost";
        EXPECT_EQ(g->body, acked[i]);
    }
}

} // namespace
} // namespace hs::test

namespace hs::test {
namespace {

TEST(database_down, requests_that_need_it_get_503_with_retry_after_in_bounded_time) {
    // Port 1: nothing listens there, the database is down from the start.
    server_process s(
        {"--database-url", "postgresql://hs@127.0.0.1:1/hs", "--database-timeout", "1"});
    for (const char* raw :
         {"POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Content-Length: 7\r\n\r\n{\"a\":1}",
          "GET /data/1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /data HTTP/1.1\r\nHost: x\r\n\r\n"}) {
        const auto began = std::chrono::steady_clock::now();
        const auto r = request_once(s.port(), raw);
        ASSERT_TRUE(r) << raw;
        EXPECT_EQ(r->status, 503) << raw;
        EXPECT_EQ(r->header("Retry-After").value_or(""), "1");
        EXPECT_EQ(r->header("Content-Type").value_or(""), "application/problem+json");
        EXPECT_LT(std::chrono::steady_clock::now() - began, 2500ms);
    }
    EXPECT_TRUE(serves(s.port())); // what needs no database still works
    const auto ready = request_once(s.port(), "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find("[-]store failed"), std::string::npos) << ready->body;
    EXPECT_EQ(request_once(s.port(), "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")->status, 200);
}

} // namespace
} // namespace hs::test

namespace hs::test {
namespace {

/// POSTs from \p n clients until stopped, straight to one instance: every 201 is kept, and a
/// request that got no answer at all within 10 s counts as hanging.
struct http_load {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::map<std::uint64_t, std::string> acked;
    std::atomic<int> unavailable{0}, other{0}, hanging{0};
    std::vector<std::thread> ts;
    http_load(std::uint16_t port, int n) {
        for (int t = 0; t < n; ++t) {
            ts.emplace_back([this, port, t] {
                session s(port);
                for (int i = 0; !stop.load(); ++i) {
                    const auto r =
                        s.call("POST", "/data",
                               "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}");
                    if (!r) {
                        ++hanging;
                    } else if (r->status == 201) {
                        std::lock_guard lock(mu);
                        acked[std::stoull(r->header("Location")->substr(6))] = r->body;
                    } else if (r->status == 503 && r->header("Retry-After")) {
                        ++unavailable;
                        std::this_thread::sleep_for(5ms);
                    } else {
                        ++other;
                    }
                }
            });
        }
    }
    void finish() {
        stop = true;
        for (auto& t : ts) {
            t.join();
        }
    }
};

TEST(database_faults, restarted_and_terminated_mid_load_503s_during_then_full_recovery) {
    auto pg = pg_cluster::private_cluster();
    const std::string app = "hs_e2e_" + std::to_string(::getpid());
    server_process srv({"--database-url", pg->url() + "?application_name=" + app,
                        "--database-timeout", "2", "-t", "2"});
    for (int i = 0; i < 200 && !serves_data(srv.port()); ++i) {
        std::this_thread::sleep_for(25ms);
    }
    http_load load(srv.port(), 4);
    std::this_thread::sleep_for(400ms);
    pg->psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
             "application_name = '" +
             app + "'");
    std::this_thread::sleep_for(400ms);
    pg->restart();
    std::this_thread::sleep_for(400ms);
    pg->kill();
    std::this_thread::sleep_for(300ms);
    pg->start();
    // Recovered by itself: /readyz says so within the backoff's reach, then writes go on.
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < until) {
        const auto r = request_once(srv.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
        if (r && r->status == 200) {
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    const std::size_t at_recovery = [&] {
        std::lock_guard lock(load.mu);
        return load.acked.size();
    }();
    std::this_thread::sleep_for(1000ms);
    load.finish();
    EXPECT_EQ(load.hanging.load(), 0) << "a request got no answer";
    EXPECT_EQ(load.other.load(), 0);
    EXPECT_GT(load.unavailable.load(), 0) << "the faults were never seen";
    EXPECT_GT(load.acked.size(), at_recovery + 10) << "the server did not recover by itself";
    EXPECT_EQ(request_once(srv.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")->status, 200);
    session s(srv.port());
    for (const auto& [id, json] : load.acked) {
        const auto g = s.call("GET", "/data/" + std::to_string(id));
        ASSERT_TRUE(g && g->status == 200) << "acknowledged item " << id << " lost";
        EXPECT_EQ(g->body, json);
    }
    EXPECT_EQ(srv.stop(), 0);
}

} // namespace
} // namespace hs::test
