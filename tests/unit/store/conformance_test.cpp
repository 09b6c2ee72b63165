// The store conformance suite: one typed suite that every document_store implementation must
// pass (the memory store today; the journal and PostgreSQL stores join by adding their type to
// store_types with a store_factory specialisation). Operations, errors, version rules, range
// reads at the edges, and concurrency checked against a model. Run under TSan too.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <filesystem>

#include "store/durable/durable_store.hpp"
#include "store/memory_store.hpp"
#include "support/sim_directory.hpp"
#ifdef HS_CONFORMANCE_POSTGRES
#include "hs/loop.hpp"
#include "store/postgres/pg_store.hpp"
#include "support/pg_cluster.hpp"
#endif

namespace hs::store {
namespace {

using namespace std::chrono_literals;

/// How the suite gets a fresh, empty store of type T.
template <class T> struct store_factory;
template <> struct store_factory<memory_store> {
    static std::unique_ptr<document_store> make() { return std::make_unique<memory_store>(); }
};

/// The durable store on the simulated disk (every fault and crash test's disk)...
struct durable_on_sim_disk {};
template <> struct store_factory<durable_on_sim_disk> {
    static std::unique_ptr<document_store> make() {
        durable_options o;
        o.segment_bytes = 64 * 1024; // rotations happen within the suite
        o.snapshot_after_bytes = 256 * 1024;
        return std::make_unique<durable_store>(
            std::make_unique<hs::test::sim_directory>(std::make_shared<hs::test::sim_disk>()), o);
    }
};

/// ...and on a real directory (fdatasync and all), removed when the store goes.
struct durable_on_real_disk {};
class durable_in_temp_dir final : public durable_store {
public:
    explicit durable_in_temp_dir(std::string dir)
        : durable_store(journal::open_posix_directory(dir), options()), dir_(std::move(dir)) {}
    ~durable_in_temp_dir() override {
        close();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

private:
    static durable_options options() {
        durable_options o;
        o.segment_bytes = 1 << 20;
        return o;
    }
    std::string dir_;
};
template <> struct store_factory<durable_on_real_disk> {
    static std::unique_ptr<document_store> make() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hs-store-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        return std::make_unique<durable_in_temp_dir>(tmpl);
    }
};

#ifdef HS_CONFORMANCE_POSTGRES
/// The PostgreSQL store in a schema of its own on the pg fixture's cluster, with two workers
/// (two loops, two connections each): the suite's threads are not workers, so their
/// operations are handed to the loops, round robin.
struct postgres_store {};
class pg_on_two_loops final : public document_store {
public:
    pg_on_two_loops() : store_(options(), 2) {
        for (unsigned i = 0; i < 2; ++i) {
            workers_[i].thread = std::thread([this, i] {
                worker& w = workers_[i];
                worker_context ctx{w.loop, i, nullptr};
                store_.attach(ctx);
                w.attached.store(true);
                w.loop.run();
                store_.detach(ctx);
            });
        }
        for (auto& w : workers_) {
            while (!w.attached.load()) {
                std::this_thread::yield();
            }
        }
        // Ready when a first operation got an answer from the database.
        for (int i = 0; i < 200 && store_.etag_prefix().empty(); ++i) {
            std::this_thread::sleep_for(20ms);
        }
        if (store_.etag_prefix().empty()) {
            throw std::runtime_error("the PostgreSQL store did not connect");
        }
    }
    ~pg_on_two_loops() override {
        for (auto& w : workers_) {
            w.loop.stop();
            w.thread.join();
        }
    }
    void create(std::string m, item_callback d) override {
        store_.create(std::move(m), std::move(d));
    }
    void get(std::uint64_t id, item_callback d) override { store_.get(id, std::move(d)); }
    void list(std::uint64_t a, std::size_t l, std::size_t b, list_callback d) override {
        store_.list(a, l, b, std::move(d));
    }
    void replace(std::uint64_t id, std::string m, precondition p, item_callback d) override {
        store_.replace(id, std::move(m), std::move(p), std::move(d));
    }
    void modify(std::uint64_t id, member_edit e, precondition p, item_callback d) override {
        store_.modify(id, std::move(e), std::move(p), std::move(d));
    }
    void remove(std::uint64_t id, precondition p, item_callback d) override {
        store_.remove(id, std::move(p), std::move(d));
    }
    std::string_view etag_prefix() const noexcept override { return store_.etag_prefix(); }

private:
    static pg_options options() {
        pg_options o;
        o.url = hs::test::pg_cluster::shared().url();
        o.schema = hs::test::pg_cluster::fresh_schema();
        o.log = [](const std::string& line) {
            std::fprintf(stderr, "pg_store: %s\n", line.c_str());
        };
        return o;
    }
    struct worker {
        net::loop loop;
        std::thread thread;
        std::atomic<bool> attached{false};
    };
    pg_store store_;
    worker workers_[2];
};
template <> struct store_factory<postgres_store> {
    static std::unique_ptr<document_store> make() { return std::make_unique<pg_on_two_loops>(); }
};
#endif

/// Waits for an operation's completion, whichever thread it comes from.
template <class R> class waiter {
public:
    unique_function<void(R)> callback() {
        return [this](R r) {
            std::lock_guard lock(mu_);
            result_ = std::move(r);
            cv_.notify_all();
        };
    }
    R get() {
        std::unique_lock lock(mu_);
        const bool got = cv_.wait_for(lock, 30s, [&] { return result_.has_value(); });
        EXPECT_TRUE(got) << "the store never completed";
        return got ? std::move(*result_) : R{};
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<R> result_;
};

precondition any() {
    return {};
}
precondition if_match(std::vector<std::uint64_t> versions) {
    precondition p;
    p.any_version = false;
    p.versions = std::move(versions);
    return p;
}

template <class T> class store_conformance : public ::testing::Test {
protected:
    std::unique_ptr<document_store> s = store_factory<T>::make();

    item_result create(std::string members) {
        waiter<item_result> w;
        s->create(std::move(members), w.callback());
        return w.get();
    }
    item_result get(std::uint64_t id) {
        waiter<item_result> w;
        s->get(id, w.callback());
        return w.get();
    }
    list_result list(std::uint64_t after, std::size_t limit, std::size_t max_bytes = SIZE_MAX) {
        waiter<list_result> w;
        s->list(after, limit, max_bytes, w.callback());
        return w.get();
    }
    item_result replace(std::uint64_t id, std::string members, precondition p = any()) {
        waiter<item_result> w;
        s->replace(id, std::move(members), std::move(p), w.callback());
        return w.get();
    }
    item_result modify(std::uint64_t id, member_edit e, precondition p = any()) {
        waiter<item_result> w;
        s->modify(id, std::move(e), std::move(p), w.callback());
        return w.get();
    }
    item_result remove(std::uint64_t id, precondition p = any()) {
        waiter<item_result> w;
        s->remove(id, std::move(p), w.callback());
        return w.get();
    }
    std::vector<std::uint64_t> ids(const list_result& l) {
        std::vector<std::uint64_t> out;
        for (const item& i : l.items) {
            out.push_back(i.id);
        }
        return out;
    }
};

#ifdef HS_CONFORMANCE_POSTGRES
using store_types = ::testing::Types<postgres_store>;
#else
using store_types = ::testing::Types<memory_store, durable_on_sim_disk, durable_on_real_disk>;
#endif
TYPED_TEST_SUITE(store_conformance, store_types);

using st = item_result::status;

TYPED_TEST(store_conformance, create_gives_ascending_ids_version_1_and_the_id_first) {
    const item_result a = this->create("");
    const item_result b = this->create(R"("x":1,"y":[true])");
    EXPECT_EQ(a.what, st::ok);
    EXPECT_EQ(a.id, 1u);
    EXPECT_EQ(a.version, 1u);
    EXPECT_EQ(a.json, R"({"id":1})");
    EXPECT_EQ(b.id, 2u);
    EXPECT_EQ(b.json, R"({"id":2,"x":1,"y":[true]})");
}

TYPED_TEST(store_conformance, get_finds_items_and_reports_missing_ones) {
    this->create(R"("k":"v")");
    const item_result g = this->get(1);
    EXPECT_EQ(g.what, st::ok);
    EXPECT_EQ(g.version, 1u);
    EXPECT_EQ(g.json, R"({"id":1,"k":"v"})");
    EXPECT_EQ(this->get(0).what, st::not_found);
    EXPECT_EQ(this->get(2).what, st::not_found);
    EXPECT_EQ(this->get(9'223'372'036'854'775'807ULL).what, st::not_found);
}

TYPED_TEST(store_conformance, replace_bumps_the_version_and_never_creates) {
    EXPECT_EQ(this->replace(1, R"("a":1)").what, st::not_found);
    this->create(R"("a":1)");
    const item_result r = this->replace(1, R"("b":2)");
    EXPECT_EQ(r.what, st::ok);
    EXPECT_EQ(r.version, 2u);
    EXPECT_EQ(r.json, R"({"id":1,"b":2})");
    EXPECT_EQ(this->get(1).version, 2u);
    EXPECT_EQ(this->get(1).json, R"({"id":1,"b":2})");
    EXPECT_EQ(this->create("").id, 2u); // a replace takes no id
}

TYPED_TEST(store_conformance, preconditions_are_checked_after_existence) {
    this->create(R"("a":1)");
    // Missing item: not_found, whatever the precondition says.
    EXPECT_EQ(this->replace(7, "", if_match({1})).what, st::not_found);
    EXPECT_EQ(this->remove(7, if_match({})).what, st::not_found);
    // Wrong version: nothing changes.
    const item_result bad = this->replace(1, R"("a":2)", if_match({5, 6}));
    EXPECT_EQ(bad.what, st::precondition_failed);
    EXPECT_EQ(bad.version, 1u);
    EXPECT_EQ(this->get(1).json, R"({"id":1,"a":1})");
    EXPECT_EQ(this->modify(
                      1, [](std::string_view) { return std::string("\"z\":0"); }, if_match({}))
                  .what,
              st::precondition_failed);
    EXPECT_EQ(this->remove(1, if_match({2})).what, st::precondition_failed);
    // One of the listed versions: the write happens.
    EXPECT_EQ(this->replace(1, R"("a":2)", if_match({9, 1})).what, st::ok);
    // If-None-Match: * on an existing item, and a list naming the current version.
    precondition none_star;
    none_star.fail_if_exists = true;
    EXPECT_EQ(this->replace(1, "", none_star).what, st::precondition_failed);
    precondition none_current;
    none_current.not_versions = {2};
    EXPECT_EQ(this->remove(1, none_current).what, st::precondition_failed);
    none_current.not_versions = {1};
    EXPECT_EQ(this->remove(1, none_current).what, st::ok);
}

TYPED_TEST(store_conformance, modify_edits_the_current_members_atomically) {
    this->create(R"("n":1,"keep":"x")");
    std::string seen;
    const item_result r = this->modify(1, [&](std::string_view cur) {
        seen = std::string(cur);
        return std::string(cur) + R"(,"added":true)";
    });
    EXPECT_EQ(seen, R"("n":1,"keep":"x")"); // members without the id
    EXPECT_EQ(r.what, st::ok);
    EXPECT_EQ(r.version, 2u);
    EXPECT_EQ(r.json, R"({"id":1,"n":1,"keep":"x","added":true})");
    EXPECT_EQ(this->modify(3, [](std::string_view c) { return std::string(c); }).what,
              st::not_found);
}

TYPED_TEST(store_conformance, a_declined_edit_writes_nothing) {
    this->create(R"("n":1)");
    const item_result r = this->modify(
        1, [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
    EXPECT_EQ(r.what, st::edit_refused);
    const item_result now = this->get(1);
    EXPECT_EQ(now.version, 1u);
    EXPECT_EQ(now.json, R"({"id":1,"n":1})");
}

TYPED_TEST(store_conformance, concurrent_modifies_and_replaces_lose_no_edit) {
    // Eight threads increment "n" through modify while two others rewrite "other" with replace
    // (keeping n): every increment lands once, whatever the store retries.
    this->create(R"("n":0,"other":0)");
    constexpr int threads = 8;
    constexpr int each = 50;
    auto bump = [](std::string_view cur) -> std::optional<std::string> {
        const auto at = cur.find("\"n\":") + 4;
        const auto end = cur.find(',', at);
        const int n = std::stoi(std::string(cur.substr(at, end - at)));
        return "\"n\":" + std::to_string(n + 1) + std::string(cur.substr(end));
    };
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                EXPECT_EQ(this->modify(1, bump).what, st::ok);
            }
        });
    }
    for (int t = 0; t < 2; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < each; ++i) {
                // A blind rewrite of "other" through modify too: replace would drop n's count.
                this->modify(1, [t, i](std::string_view cur) -> std::optional<std::string> {
                    const auto at = cur.find(",\"other\":");
                    return std::string(cur.substr(0, at)) +
                           ",\"other\":" + std::to_string(t * 1000 + i);
                });
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    const item_result r = this->get(1);
    EXPECT_NE(r.json.find("\"n\":" + std::to_string(threads * each) + ","), std::string::npos)
        << r.json;
    EXPECT_EQ(r.version, 1u + threads * each + 2 * each);
}

TYPED_TEST(store_conformance, removed_ids_are_gone_and_never_reused) {
    this->create("");
    this->create("");
    EXPECT_EQ(this->remove(2).what, st::ok);
    EXPECT_EQ(this->remove(2).what, st::not_found);
    EXPECT_EQ(this->get(2).what, st::not_found);
    EXPECT_EQ(this->replace(2, "").what, st::not_found);
    EXPECT_EQ(this->create("").id, 3u);
    EXPECT_EQ(this->ids(this->list(0, 100)), (std::vector<std::uint64_t>{1, 3}));
}

TYPED_TEST(store_conformance, range_reads_at_the_edges) {
    for (int i = 0; i < 10; ++i) {
        this->create(R"("i":)" + std::to_string(i + 1));
    }
    this->remove(4);
    this->remove(10);
    const list_result all = this->list(0, 1000);
    EXPECT_EQ(this->ids(all), (std::vector<std::uint64_t>{1, 2, 3, 5, 6, 7, 8, 9}));
    EXPECT_FALSE(all.more);
    EXPECT_EQ(all.items[3].json, R"({"id":5,"i":5})");
    EXPECT_EQ(all.items[3].version, 1u);
    const list_result first = this->list(0, 1);
    EXPECT_EQ(this->ids(first), (std::vector<std::uint64_t>{1}));
    EXPECT_TRUE(first.more);
    const list_result mid = this->list(3, 2); // after a removed id's neighbour
    EXPECT_EQ(this->ids(mid), (std::vector<std::uint64_t>{5, 6}));
    EXPECT_TRUE(mid.more);
    const list_result to_end = this->list(7, 2);
    EXPECT_EQ(this->ids(to_end), (std::vector<std::uint64_t>{8, 9}));
    EXPECT_FALSE(to_end.more); // 10 was removed: nothing follows
    EXPECT_TRUE(this->list(9, 5).items.empty());
    EXPECT_FALSE(this->list(9, 5).more);
    EXPECT_TRUE(this->list(9'223'372'036'854'775'806ULL, 5).items.empty());
    const list_result exact = this->list(0, 8);
    EXPECT_EQ(exact.items.size(), 8u);
    EXPECT_FALSE(exact.more);
}

TYPED_TEST(store_conformance, a_page_stops_after_the_item_that_reaches_its_byte_budget) {
    this->create(R"("t":"aaaaaaaaaa")"); // {"id":1,"t":"aaaaaaaaaa"}: 25 bytes
    this->create(R"("t":"b")");
    this->create(R"("t":"c")");
    EXPECT_EQ(this->ids(this->list(0, 100, 1)), (std::vector<std::uint64_t>{1})); // one at least
    EXPECT_TRUE(this->list(0, 100, 1).more);
    EXPECT_EQ(this->ids(this->list(0, 100, 26)), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(this->ids(this->list(1, 100, 1000)), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_FALSE(this->list(1, 100, 1000).more);
}

TYPED_TEST(store_conformance, an_empty_store_lists_nothing) {
    const list_result l = this->list(0, 1000);
    EXPECT_EQ(l.what, st::ok);
    EXPECT_TRUE(l.items.empty());
    EXPECT_FALSE(l.more);
}

TYPED_TEST(store_conformance, the_etag_prefix_differs_between_fresh_stores) {
    auto other = store_factory<TypeParam>::make();
    EXPECT_FALSE(this->s->etag_prefix().empty());
    EXPECT_NE(this->s->etag_prefix(), other->etag_prefix());
}

TYPED_TEST(store_conformance, sixteen_racing_writers_with_one_version_exactly_one_wins) {
    for (int round = 0; round < 20; ++round) {
        const item_result c = this->create(R"("r":0)");
        std::atomic<int> ready{0};
        std::vector<item_result> results(16);
        std::vector<std::thread> ts;
        for (int t = 0; t < 16; ++t) {
            ts.emplace_back([&, t] {
                ++ready;
                while (ready < 16) {
                    std::this_thread::yield(); // start together
                }
                results[t] = this->replace(c.id, R"("w":)" + std::to_string(t), if_match({1}));
            });
        }
        for (auto& th : ts) {
            th.join();
        }
        int wins = 0;
        int winner = -1;
        for (int t = 0; t < 16; ++t) {
            if (results[t].what == st::ok) {
                ++wins;
                winner = t;
                EXPECT_EQ(results[t].version, 2u);
            } else {
                EXPECT_EQ(results[t].what, st::precondition_failed) << t;
            }
        }
        ASSERT_EQ(wins, 1) << "round " << round;
        EXPECT_EQ(this->get(c.id).json,
                  "{\"id\":" + std::to_string(c.id) + ",\"w\":" + std::to_string(winner) + "}");
    }
}

TYPED_TEST(store_conformance, concurrent_compare_and_write_loops_lose_no_update) {
    // Eight threads each add 1 to a counter 50 times by read, then write with If-Match, retrying
    // on precondition_failed: the final count is the model's, and versions count every write.
    this->create(R"("n":0)");
    constexpr int threads = 8;
    constexpr int per_thread = 50;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&] {
            for (int i = 0; i < per_thread;) {
                const item_result cur = this->get(1);
                const auto colon = cur.json.find("\"n\":");
                const int n = std::stoi(cur.json.substr(colon + 4));
                const item_result w =
                    this->replace(1, R"("n":)" + std::to_string(n + 1), if_match({cur.version}));
                if (w.what == st::ok) {
                    ++i;
                } else {
                    ASSERT_EQ(w.what, st::precondition_failed);
                }
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    const item_result fin = this->get(1);
    EXPECT_EQ(fin.json, R"({"id":1,"n":)" + std::to_string(threads * per_thread) + "}");
    EXPECT_EQ(fin.version, static_cast<std::uint64_t>(threads * per_thread + 1));
}

TYPED_TEST(store_conformance, concurrent_mixed_operations_match_a_model) {
    // Each thread owns the items it creates: its own model of them must match the store's at the
    // end, and listings taken meanwhile are always in ascending id order without repeats.
    constexpr int threads = 4;
    std::vector<std::map<std::uint64_t, std::string>> models(threads);
    std::atomic<bool> bad_listing{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            auto& model = models[t];
            for (int i = 0; i < 200; ++i) {
                const std::string m =
                    R"("t":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i);
                const item_result c = this->create(m);
                model[c.id] = c.json;
                if (i % 3 == 0) {
                    const item_result r = this->replace(c.id, m + R"(,"r":1)");
                    model[c.id] = r.json;
                }
                if (i % 5 == 0) {
                    this->remove(c.id);
                    model.erase(c.id);
                }
                if (i % 20 == 0) {
                    std::uint64_t after = 0;
                    std::uint64_t last = 0;
                    for (;;) {
                        const list_result page = this->list(after, 64);
                        for (const item& it : page.items) {
                            if (it.id <= last) {
                                bad_listing = true;
                            }
                            last = it.id;
                        }
                        if (!page.more || page.items.empty()) {
                            break;
                        }
                        after = page.items.back().id;
                    }
                }
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    EXPECT_FALSE(bad_listing);
    std::map<std::uint64_t, std::string> expected;
    for (const auto& m : models) {
        expected.insert(m.begin(), m.end());
    }
    std::map<std::uint64_t, std::string> actual;
    std::uint64_t after = 0;
    for (;;) {
        const list_result page = this->list(after, 100);
        for (const item& it : page.items) {
            actual[it.id] = it.json;
        }
        if (!page.more) {
            break;
        }
        after = page.items.back().id;
    }
    EXPECT_EQ(actual, expected);
}

} // namespace
} // namespace hs::store
