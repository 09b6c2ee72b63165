// The durable store through the real binary: a restart keeps every item, ETag and id; kill -9
// under concurrent write load, 20 rounds, checked against a model of the acknowledged writes;
// a second server on the same --data-dir exits 1.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

class temp_dir {
public:
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "hs-data-XXXXXX").string();
        if (::mkdtemp(t.data()) == nullptr) {
            throw std::runtime_error("mkdtemp");
        }
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string path;
};

std::string request(std::string_view method, std::string_view target, std::string_view body = {}) {
    std::string r(method);
    r += ' ';
    r += target;
    r += " HTTP/1.1\r\nHost: t\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
        r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    r += "\r\n";
    r += body;
    return r;
}

std::vector<std::string> durable_args(const std::string& dir) {
    // Small segments and snapshots every 64 KiB of journal: the kills land in rotations and
    // in snapshots too, not only in appends.
    return {"--data-dir",
            dir,
            "--threads",
            "2",
            "--access-log",
            "off",
            "--journal-segment-bytes",
            "262144",
            "--snapshot-after-bytes",
            "65536"};
}

/// Every item, read with GET /data (one page of up to 1000).
std::map<std::uint64_t, std::string> all_items(std::uint16_t port) {
    std::map<std::uint64_t, std::string> out;
    std::uint64_t after = 0;
    for (;;) {
        const auto r =
            request_once(port, request("GET", "/data?limit=1000&after=" + std::to_string(after)));
        if (!r || r->status != 200) {
            ADD_FAILURE() << "listing failed";
            return out;
        }
        const auto items = nlohmann::ordered_json::parse(r->body);
        for (const auto& it : items) {
            out[it["id"].get<std::uint64_t>()] = it.dump();
        }
        if (items.size() < 1000) {
            return out;
        }
        after = items.back()["id"].get<std::uint64_t>();
    }
}

TEST(durable, a_restart_keeps_items_etags_and_ids) {
    temp_dir dir;
    std::string etag;
    {
        server_process s(durable_args(dir.path));
        for (int i = 1; i <= 3; ++i) {
            const auto r = request_once(s.port(), request("POST", "/data", R"({"n":1})"));
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 201);
        }
        ASSERT_EQ(request_once(s.port(), request("DELETE", "/data/3"))->status, 204);
        const auto put = request_once(s.port(), request("PUT", "/data/1", R"({"n":2})"));
        ASSERT_EQ(put->status, 200);
        etag = put->header("ETag").value_or("");
        EXPECT_EQ(s.stop(SIGKILL), 128 + SIGKILL);
    }
    server_process s(durable_args(dir.path));
    EXPECT_NE(s.startup_output().find("2 items recovered"), std::string::npos)
        << s.startup_output();
    const auto g = request_once(s.port(), request("GET", "/data/1"));
    ASSERT_TRUE(g);
    EXPECT_EQ(g->body, R"({"id":1,"n":2})");
    EXPECT_EQ(g->header("ETag").value_or(""), etag);
    EXPECT_EQ(request_once(s.port(), request("GET", "/data/3"))->status, 404);
    const auto c = request_once(s.port(), request("POST", "/data", "{}"));
    EXPECT_EQ(c->header("Location").value_or(""), "/data/4"); // 3 is never handed out again
    // If-Match with the ETag from before the restart still matches.
    auto cond = request("PUT", "/data/1", R"({"n":3})");
    cond.insert(cond.find("\r\n") + 2, "If-Match: " + etag + "\r\n");
    EXPECT_EQ(request_once(s.port(), cond)->status, 200);
}

TEST(durable, a_second_server_on_the_same_data_dir_exits_1) {
    temp_dir dir;
    server_process first(durable_args(dir.path));
    const run_result second = run_binary("--port 0 --access-log off --data-dir " + dir.path);
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.output.find("another process holds"), std::string::npos) << second.output;
    EXPECT_TRUE(serves(first.port()));
}

/// The model: per id, the state last acknowledged (nullopt: deleted) and the states a write in
/// flight at the kill may have left. Each client writes only its own items, so per id the
/// writes are sequential.
struct model {
    std::mutex mu;
    std::map<std::uint64_t, std::optional<std::string>> acked;
    std::map<std::uint64_t, std::optional<std::string>> in_flight; ///< by id
    std::set<std::string> in_flight_creates;                       ///< bodies, id unknown
    std::uint64_t max_id = 0;
};

/// The state of \p id in a listing (nullopt: absent).
std::optional<std::string> state_in(const std::map<std::uint64_t, std::string>& items,
                                    std::uint64_t id) {
    const auto it = items.find(id);
    return it == items.end() ? std::nullopt : std::optional(it->second);
}

/// What a recovery may show for \p id: its acknowledged state, or the write in flight on it.
bool allowed(const model& m, std::uint64_t id, const std::optional<std::string>& got,
             const std::optional<std::string>& want) {
    const auto fl = m.in_flight.find(id);
    return got == want || (fl != m.in_flight.end() && got == fl->second);
}

std::string item_text(std::uint64_t id, const std::string& body) {
    // The body is {"c":..,"n":..}: the stored text puts "id" first.
    return R"({"id":)" + std::to_string(id) + "," + body.substr(1);
}

void client_loop(std::uint16_t port, int who, int round, model& m, std::atomic<bool>& stop,
                 std::atomic<std::uint64_t>& acks) {
    std::mt19937 rng(static_cast<unsigned>(who * 1000 + round));
    client c(port);
    std::vector<std::uint64_t> mine;
    for (int n = 0; !stop.load(); ++n) {
        const std::string body = R"({"c":)" + std::to_string(who) + R"(,"r":)" +
                                 std::to_string(round) + R"(,"n":)" + std::to_string(n) + "}";
        const auto pick = static_cast<unsigned>(rng() % 10);
        if (mine.empty() || pick < 5) {
            {
                std::lock_guard l(m.mu);
                m.in_flight_creates.insert(body);
            }
            if (!c.send(request("POST", "/data", body))) {
                return;
            }
            const auto r = c.read_response(3s);
            if (!r) {
                return; // killed: the create stays in flight
            }
            std::lock_guard l(m.mu);
            m.in_flight_creates.erase(body);
            if (r->status != 201) {
                ADD_FAILURE() << "POST answered " << r->status;
                return;
            }
            const std::uint64_t id = std::stoull(r->header("Location")->substr(6));
            if (m.acked.count(id) != 0) {
                ADD_FAILURE() << "id " << id << " was handed out again";
            }
            m.acked[id] = item_text(id, body);
            m.max_id = std::max(m.max_id, id);
            mine.push_back(id);
        } else {
            const std::size_t k = rng() % mine.size();
            const std::uint64_t id = mine[k];
            const bool del = pick >= 8;
            {
                std::lock_guard l(m.mu);
                m.in_flight[id] = del ? std::nullopt : std::optional(item_text(id, body));
            }
            if (!c.send(del ? request("DELETE", "/data/" + std::to_string(id))
                            : request("PUT", "/data/" + std::to_string(id), body))) {
                return;
            }
            const auto r = c.read_response(3s);
            if (!r) {
                return;
            }
            std::lock_guard l(m.mu);
            if (r->status != (del ? 204 : 200)) {
                ADD_FAILURE() << "write answered " << r->status;
                return;
            }
            m.acked[id] = m.in_flight[id];
            m.in_flight.erase(id);
            if (del) {
                mine.erase(mine.begin() + static_cast<long>(k));
            }
        }
        acks.fetch_add(1);
    }
}

TEST(durable, kill_9_under_concurrent_writes_loses_nothing_acknowledged) {
    temp_dir dir;
    model m;
    std::mt19937 rng(4242);
    constexpr int rounds = 20;
    std::uint64_t total_acks = 0;
    for (int round = 0; round < rounds; ++round) {
        server_process s(durable_args(dir.path));
        // Check what the last kill left against the model, then adopt it.
        const auto items = all_items(s.port());
        {
            std::lock_guard l(m.mu);
            for (const auto& [id, want] : m.acked) {
                const std::optional<std::string> got = state_in(items, id);
                EXPECT_TRUE(allowed(m, id, got, want))
                    << "round " << round << ": item " << id << " is " << got.value_or("(absent)")
                    << ", acknowledged " << want.value_or("(deleted)");
                m.acked[id] = got;
            }
            for (const auto& [id, text] : items) {
                if (m.acked.count(id) != 0) {
                    continue;
                }
                // Never acknowledged: only a create in flight at the kill may appear.
                const auto doc = nlohmann::ordered_json::parse(text);
                nlohmann::ordered_json body = doc;
                body.erase("id");
                const bool sent = m.in_flight_creates.count(body.dump()) != 0;
                EXPECT_TRUE(sent) << "round " << round << ": item " << text << " was never sent";
                // (Its id may be below an acknowledged one: ids follow acceptance, and answers
                // of one batch can reach their clients in any order.)
                m.acked[id] = text;
                m.max_id = std::max(m.max_id, id);
            }
            m.in_flight.clear();
            m.in_flight_creates.clear();
        }
        if (HasFailure()) {
            return;
        }
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> acks{0};
        std::vector<std::thread> clients;
        for (int who = 0; who < 8; ++who) {
            clients.emplace_back(client_loop, s.port(), who, round, std::ref(m), std::ref(stop),
                                 std::ref(acks));
        }
        const auto wait = std::chrono::milliseconds(100 + rng() % 300);
        std::this_thread::sleep_for(wait);
        EXPECT_EQ(s.stop(SIGKILL), 128 + SIGKILL);
        stop.store(true);
        for (auto& t : clients) {
            t.join();
        }
        EXPECT_GT(acks.load(), 0u) << "round " << round << ": no write was acknowledged";
        total_acks += acks.load();
    }
    std::printf("kill -9: %d rounds, %llu acknowledged writes checked, %zu items\n", rounds,
                static_cast<unsigned long long>(total_acks), m.acked.size());
    // Snapshots ran under the kills (compaction removed what they cover).
    bool snapshotted = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
        snapshotted = snapshotted || e.path().extension() == ".snap";
    }
    EXPECT_TRUE(snapshotted) << "no snapshot was taken during the rounds";
    // The last kill, checked by one more start.
    server_process s(durable_args(dir.path));
    const auto items = all_items(s.port());
    std::lock_guard l(m.mu);
    for (const auto& [id, want] : m.acked) {
        EXPECT_TRUE(allowed(m, id, state_in(items, id), want)) << id;
    }
}

} // namespace
} // namespace hs::test
