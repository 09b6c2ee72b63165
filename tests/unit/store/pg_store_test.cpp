// The PostgreSQL store beyond the conformance suite, on a real database: the pipeline (one
// query's error aborts no other, one flush per iteration, a bounded queue, a deadline), the
// stored text kept exactly, and the faults: the database down at start, backends terminated
// and the database restarted under load (503 during, nothing acknowledged lost, recovery).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "hs/loop.hpp"
#include "store/postgres/pg_store.hpp"
#include "support/pg_cluster.hpp"

namespace hs::store {
namespace {

using namespace std::chrono_literals;
using hs::test::pg_cluster;
using st = item_result::status;

/// A loop on a thread of its own; run() executes a function on it and waits.
class loop_thread {
public:
    loop_thread() : thread_([this] { loop_.run(); }) {}
    ~loop_thread() {
        loop_.stop();
        thread_.join();
    }
    template <class F> auto run(F&& f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::forward<F>(f));
        auto fut = task.get_future();
        loop_.post([&task] { task(); });
        return fut.get();
    }
    net::loop& loop() { return loop_; }

private:
    net::loop loop_;
    std::thread thread_;
};

/// Collects pipeline replies by index, waiting for a count.
struct replies {
    std::mutex mu;
    std::condition_variable cv;
    std::map<int, pg::reply> got;
    pg::pipeline::callback slot(int i) {
        return [this, i](pg::reply r) {
            std::lock_guard lock(mu);
            got[i] = std::move(r);
            cv.notify_all();
        };
    }
    bool wait(std::size_t n, std::chrono::milliseconds t = 10s) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, t, [&] { return got.size() >= n; });
    }
};

std::string value(const pg::reply& r) {
    return r.rows != nullptr && PQntuples(r.rows.get()) > 0 ? PQgetvalue(r.rows.get(), 0, 0) : "";
}

pg::pipeline_options pipeline_opts(std::vector<pg::statement> s) {
    pg::pipeline_options o;
    o.conninfo = pg_cluster::shared().url();
    o.setup_sql = "SELECT 1";
    o.statements = std::move(s);
    o.timeout_ms = 5000;
    return o;
}

/// Waits until \p p is ready (on its loop).
bool wait_ready(loop_thread& t, pg::pipeline& p, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (t.run([&] { return p.ready(); })) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(pg_pipeline, one_querys_error_aborts_no_other_and_a_batch_leaves_in_one_flush) {
    const auto o = pipeline_opts({{"SELECT 100 / $1::int", 1}});
    loop_thread t;
    pg::pipeline p(t.loop(), o);
    t.run([&] { p.start(); });
    ASSERT_TRUE(wait_ready(t, p));
    replies r;
    const char* divisors[] = {"1", "2", "0", "4", "5"};
    t.run([&] {
        for (int i = 0; i < 5; ++i) {
            p.submit(0, {divisors[i]}, r.slot(i));
        }
    });
    ASSERT_TRUE(r.wait(5));
    EXPECT_EQ(value(r.got[0]), "100");
    EXPECT_EQ(value(r.got[1]), "50");
    EXPECT_EQ(r.got[2].what, pg::reply::status::error);
    EXPECT_EQ(r.got[2].sqlstate, "22012"); // division_by_zero, and only there
    EXPECT_EQ(value(r.got[3]), "25");
    EXPECT_EQ(value(r.got[4]), "20");
    const pg::pipeline_stats s = t.run([&] { return p.stats(); });
    EXPECT_EQ(s.queries, 5u);
    EXPECT_EQ(s.flushes, 1u);
    EXPECT_EQ(s.max_batch, 5u);
    t.run([&] { p.close(); });
}

TEST(pg_pipeline, an_error_at_commit_wins_over_the_statements_ok) {
    // A deferred unique constraint fails at COMMIT, which the Sync runs: the INSERT itself
    // said OK first. Answering that OK would acknowledge a write that was rolled back.
    auto o = pipeline_opts({{"INSERT INTO d VALUES ($1::int), ($1::int)", 1}, {"SELECT 1", 0}});
    o.setup_sql = "CREATE TEMP TABLE d (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)";
    loop_thread t;
    pg::pipeline p(t.loop(), o);
    t.run([&] { p.start(); });
    ASSERT_TRUE(wait_ready(t, p));
    replies r;
    t.run([&] {
        p.submit(0, {"1"}, r.slot(0));
        p.submit(1, {}, r.slot(1));
    });
    ASSERT_TRUE(r.wait(2));
    EXPECT_EQ(r.got[0].what, pg::reply::status::error);
    EXPECT_EQ(r.got[0].sqlstate, "23505");
    EXPECT_EQ(r.got[1].what, pg::reply::status::ok);
    t.run([&] { p.close(); });
}

TEST(pg_pipeline, past_its_queue_bound_a_query_is_refused_at_once) {
    auto o = pipeline_opts({{"SELECT $1::int", 1}});
    o.max_queue = 3;
    loop_thread t;
    pg::pipeline p(t.loop(), o);
    t.run([&] { p.start(); });
    ASSERT_TRUE(wait_ready(t, p));
    replies r;
    t.run([&] {
        for (int i = 0; i < 10; ++i) {
            p.submit(0, {"7"}, r.slot(i));
        }
    });
    ASSERT_TRUE(r.wait(10));
    int ok = 0, refused = 0;
    for (auto& [i, rep] : r.got) {
        ok += rep.what == pg::reply::status::ok ? 1 : 0;
        refused += rep.what == pg::reply::status::refused ? 1 : 0;
    }
    EXPECT_EQ(ok, 3);
    EXPECT_EQ(refused, 7);
    t.run([&] { p.close(); });
}

TEST(pg_pipeline, a_query_past_its_deadline_is_lost_and_the_connection_comes_back) {
    auto o = pipeline_opts({{"SELECT pg_sleep($1::float8)::text || 'slept'", 1}});
    o.timeout_ms = 300;
    loop_thread t;
    pg::pipeline p(t.loop(), o);
    t.run([&] { p.start(); });
    ASSERT_TRUE(wait_ready(t, p));
    replies r;
    const auto began = std::chrono::steady_clock::now();
    t.run([&] { p.submit(0, {"3"}, r.slot(0)); });
    ASSERT_TRUE(r.wait(1));
    EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms);
    EXPECT_EQ(r.got[0].what, pg::reply::status::lost); // it may have run: unknown, not refused
    ASSERT_TRUE(wait_ready(t, p));
    t.run([&] { p.submit(0, {"0"}, r.slot(1)); });
    ASSERT_TRUE(r.wait(2));
    EXPECT_EQ(value(r.got[1]), "slept");
    t.run([&] { p.close(); });
}

/// A pg_store with one worker on its own loop.
class one_worker_store {
public:
    explicit one_worker_store(pg_options o) : store_(std::move(o), 1) {
        t_.run([this] {
            worker_context ctx{t_.loop(), 0, nullptr};
            store_.attach(ctx);
        });
    }
    ~one_worker_store() {
        t_.run([this] {
            worker_context ctx{t_.loop(), 0, nullptr};
            store_.detach(ctx);
        });
    }
    pg_store& operator*() { return store_; }
    pg_store* operator->() { return &store_; }
    item_result create(std::string m) {
        std::promise<item_result> p;
        store_.create(std::move(m), [&](item_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    item_result get(std::uint64_t id) {
        std::promise<item_result> p;
        store_.get(id, [&](item_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    list_result list_all() {
        std::promise<list_result> p;
        store_.list(0, 1'000'000, SIZE_MAX, [&](list_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    /// Retries a read until the store answers (it reconnects by itself).
    bool wait_serving(std::chrono::milliseconds limit = 20s) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            if (get(1).what != st::unavailable) {
                return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

private:
    loop_thread t_;
    pg_store store_;
};

pg_options store_opts(const std::string& url, const std::string& app = "hs_test") {
    pg_options o;
    o.url = url + "?application_name=" + app;
    o.schema = pg_cluster::fresh_schema();
    o.timeout = 1000ms;
    o.connections_per_worker = 2;
    return o;
}

TEST(pg_store, keeps_the_item_text_exactly_and_ids_past_bigint_are_not_found) {
    one_worker_store s(store_opts(pg_cluster::shared().url()));
    ASSERT_TRUE(s.wait_serving());
    const std::string members = R"("b":1.50,"a":1e2,"s":"\u00e9\n","n":null,"z":[1,{"y":-0.0}])";
    const item_result c = s.create(members);
    ASSERT_EQ(c.what, st::ok);
    EXPECT_EQ(s.get(c.id).json, "{\"id\":" + std::to_string(c.id) + "," + members + "}");
    EXPECT_EQ(s.get(UINT64_MAX).what, st::not_found);
    EXPECT_EQ(s.get(std::uint64_t{1} << 63).what, st::not_found);
}

TEST(pg_store, versions_past_bigint_in_a_precondition_never_match_and_fail_nothing) {
    one_worker_store s(store_opts(pg_cluster::shared().url()));
    ASSERT_TRUE(s.wait_serving());
    const item_result c = s.create(R"("a":1)");
    ASSERT_EQ(c.what, st::ok);
    precondition huge;
    huge.any_version = false;
    huge.versions = {UINT64_MAX, std::uint64_t{1} << 63};
    std::promise<item_result> w;
    s->replace(c.id, R"("a":2)", huge, [&](item_result r) { w.set_value(std::move(r)); });
    EXPECT_EQ(w.get_future().get().what, st::precondition_failed); // 412, not 503
    precondition not_huge;
    not_huge.not_versions = {UINT64_MAX};
    std::promise<item_result> d;
    s->remove(c.id, not_huge, [&](item_result r) { d.set_value(std::move(r)); });
    EXPECT_EQ(d.get_future().get().what, st::ok);
}

TEST(pg_store, the_database_down_at_start_gives_503_in_bounded_time_then_recovers) {
    auto cluster = pg_cluster::private_cluster();
    cluster->stop();
    one_worker_store s(store_opts(cluster->url()));
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(s.create(R"("a":1)").what, st::unavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 2s); // the timeout is 1 s
    EXPECT_FALSE(s->ready());
    cluster->start();
    ASSERT_TRUE(s.wait_serving());
    EXPECT_TRUE(s->ready());
    EXPECT_EQ(s.create(R"("a":1)").what, st::ok);
}

/// Creates from \p threads threads until stopped; every acknowledged id is kept.
struct create_load {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::map<std::uint64_t, std::string> acked;
    std::atomic<int> unavailable{0};
    std::atomic<int> other{0};
    std::vector<std::thread> ts;
    create_load(one_worker_store& s, int threads) {
        for (int t = 0; t < threads; ++t) {
            ts.emplace_back([this, &s, t] {
                for (int i = 0; !stop.load(); ++i) {
                    const std::string m =
                        "\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i);
                    const item_result r = s.create(m);
                    if (r.what == st::ok) {
                        std::lock_guard lock(mu);
                        acked[r.id] = r.json;
                    } else if (r.what == st::unavailable) {
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

void expect_every_acknowledged_create_kept(one_worker_store& s, const create_load& load) {
    const list_result all = s.list_all();
    ASSERT_EQ(all.what, st::ok);
    std::map<std::uint64_t, std::string> stored;
    for (const item& it : all.items) {
        stored[it.id] = it.json;
    }
    for (const auto& [id, json] : load.acked) {
        ASSERT_TRUE(stored.count(id)) << "acknowledged item " << id << " is gone";
        EXPECT_EQ(stored[id], json);
    }
    EXPECT_EQ(load.other.load(), 0);
}

TEST(pg_store, terminated_backends_fail_what_was_in_flight_and_the_store_recovers) {
    const std::string app = "hs_term_" + std::to_string(::getpid());
    one_worker_store s(store_opts(pg_cluster::shared().url(), app));
    ASSERT_TRUE(s.wait_serving());
    create_load load(s, 4);
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < 3; ++i) {
        pg_cluster::shared().psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
            "application_name = '" +
            app + "'");
        std::this_thread::sleep_for(300ms);
    }
    load.finish();
    ASSERT_TRUE(s.wait_serving());
    EXPECT_GT(load.acked.size(), 10u);
    expect_every_acknowledged_create_kept(s, load);
    const pg_stats stats = s->stats();
    EXPECT_GE(stats.failures, 2u) << "the terminations were not seen";
    EXPECT_GE(stats.connects, 4u);
}

TEST(pg_store, a_database_restart_under_load_gives_503s_then_full_recovery) {
    auto cluster = pg_cluster::private_cluster();
    one_worker_store s(store_opts(cluster->url()));
    ASSERT_TRUE(s.wait_serving());
    create_load load(s, 4);
    std::this_thread::sleep_for(300ms);
    cluster->restart();
    std::this_thread::sleep_for(500ms);
    const std::size_t before_kill = [&] {
        std::lock_guard lock(load.mu);
        return load.acked.size();
    }();
    cluster->kill(); // an immediate shutdown: crash recovery at the next start
    cluster->start();
    ASSERT_TRUE(s.wait_serving());
    std::this_thread::sleep_for(300ms);
    load.finish();
    EXPECT_GT(load.unavailable.load(), 0) << "the restart was never seen";
    {
        std::lock_guard lock(load.mu);
        EXPECT_GT(load.acked.size(), before_kill) << "no write succeeded after recovery";
    }
    expect_every_acknowledged_create_kept(s, load);
}

} // namespace
} // namespace hs::store
