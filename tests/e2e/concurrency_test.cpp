// 8 threads x 1,000 mixed writes and reads against one server, then the final state compared
// with a model of what was acknowledged: nothing lost, duplicated or torn; ids unique.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

TEST(concurrency, mixed_operations_match_the_model) {
    server_process s({"--threads", "2", "--access-log", "off"});
    constexpr int threads = 8;
    constexpr int ops = 1000;
    std::mutex mu;
    std::map<std::uint64_t, nlohmann::json> model; // what was acknowledged, by id
    std::set<std::uint64_t> all_ids;
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t));
            client c(s.port());
            std::map<std::uint64_t, nlohmann::json> mine;
            auto call = [&](const std::string& raw) {
                c.send(raw);
                auto r = c.read_response();
                if (!r) {
                    ++failures;
                }
                return r.value_or(http_response{});
            };
            for (int i = 0; i < ops; ++i) {
                const int op = static_cast<int>(rng() % 10);
                if (op < 4 || mine.empty()) {
                    nlohmann::json body = {
                        {"thread", t}, {"op", i}, {"pad", std::string(rng() % 200, 'x')}};
                    const std::string b = body.dump();
                    const auto r =
                        call("POST /data HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(b.size()) + "\r\n\r\n" + b);
                    if (r.status != 201) {
                        ++failures;
                        continue;
                    }
                    const auto j = nlohmann::json::parse(r.body);
                    const auto id = j["id"].get<std::uint64_t>();
                    body["id"] = id;
                    if (j != body || r.header("Location") != "/data/" + std::to_string(id)) {
                        ++failures;
                    }
                    mine[id] = body;
                    std::lock_guard lock(mu);
                    if (!all_ids.insert(id).second) {
                        ++failures; // an id handed out twice
                    }
                    continue;
                }
                auto it = mine.begin();
                std::advance(it, static_cast<long>(rng() % mine.size()));
                const std::uint64_t id = it->first;
                const std::string path = "/data/" + std::to_string(id);
                if (op < 6) {
                    nlohmann::json body = {{"thread", t}, {"op", i}, {"replaced", true}};
                    const std::string b = body.dump();
                    const auto r = call("PUT " + path +
                                        " HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                                        "Content-Length: " +
                                        std::to_string(b.size()) + "\r\n\r\n" + b);
                    body["id"] = id;
                    if (r.status != 200 || nlohmann::json::parse(r.body) != body) {
                        ++failures;
                    }
                    it->second = body;
                } else if (op < 7) {
                    const auto r = call("DELETE " + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
                    if (r.status != 204) {
                        ++failures;
                    }
                    mine.erase(it);
                } else {
                    const auto r = call("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
                    if (r.status != 200 || nlohmann::json::parse(r.body) != it->second) {
                        ++failures;
                    }
                }
            }
            std::lock_guard lock(mu);
            model.insert(mine.begin(), mine.end());
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    EXPECT_EQ(failures.load(), 0);
    const auto list = request_once(s.port(), "GET /data HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(list);
    const auto items = nlohmann::json::parse(list->body);
    ASSERT_EQ(items.size(), model.size());
    std::uint64_t previous = 0;
    auto m = model.begin();
    for (const auto& item : items) {
        const auto id = item["id"].get<std::uint64_t>();
        EXPECT_GT(id, previous); // ascending
        previous = id;
        ASSERT_EQ(id, m->first);
        EXPECT_EQ(item, m->second);
        ++m;
    }
    // Ids were dense: every create got the next one.
    EXPECT_EQ(*all_ids.begin(), 1u);
    EXPECT_EQ(*all_ids.rbegin(), all_ids.size());
}

} // namespace
} // namespace hs::test
