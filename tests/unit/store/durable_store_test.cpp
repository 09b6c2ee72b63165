// The durable store through power loss and disk faults, on the simulated disk
// (support/sim_directory.hpp): a crash at every file-system operation of a recorded workload,
// several images each, and thousands of random ones, each checked against a model of the
// acknowledged writes; a flipped bit in an acknowledged record; a crash at every step of a
// snapshot; disk full; an fsync error; the lock. Every case is reproducible from its seed.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "journal/log.hpp"
#include "store/durable/durable_store.hpp"
#include "support/sim_directory.hpp"

namespace hs::store {
namespace {

using namespace std::chrono_literals;
using st = item_result::status;
using model = std::map<std::uint64_t, std::string>; // id -> text

template <class R> R wait_for(const std::function<void(unique_function<void(R)>)>& start) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<R> got;
    start([&](R r) {
        std::lock_guard l(mu);
        got = std::move(r);
        cv.notify_all();
    });
    std::unique_lock l(mu);
    cv.wait_for(l, 30s, [&] { return got.has_value(); });
    EXPECT_TRUE(got.has_value()) << "the store never completed";
    return got ? std::move(*got) : R{};
}

durable_options small(std::vector<std::string>* log = nullptr) {
    durable_options o;
    o.segment_bytes = 4096;              // rotations every few records
    o.snapshot_after_bytes = UINT64_MAX; // snapshots only when the workload asks
    if (log != nullptr) {
        o.log = [log](const std::string& l) { log->push_back(l); };
    }
    return o;
}

std::unique_ptr<durable_store> open_on(const std::shared_ptr<hs::test::sim_disk>& d,
                                       durable_options o = small()) {
    return std::make_unique<durable_store>(std::make_unique<hs::test::sim_directory>(d), o);
}

model contents(durable_store& s) {
    model m;
    const list_result l = wait_for<list_result>(
        [&](list_callback cb) { s.list(0, SIZE_MAX, SIZE_MAX, std::move(cb)); });
    for (const item& i : l.items) {
        m[i.id] = i.json;
    }
    return m;
}

/// One step of the workload: its effect on the model if acknowledged.
struct step_result {
    bool acknowledged = false;
    bool attempted = false;
    model if_done; ///< the model had this step been made durable
};

/// A deterministic workload of creates, replaces, patches, removes and two snapshots, run one
/// operation at a time, each waiting for its answer. Stops at the first failure (the crash).
class workload {
public:
    model acked;                ///< every acknowledged write applied
    std::optional<model> maybe; ///< plus the write in flight at the crash
    std::uint64_t max_acked_id = 0;

    void run(durable_store& s) {
        std::mt19937_64 rng(7);
        for (int i = 0; i < 60; ++i) {
            if (i == 25 || i == 45) {
                try {
                    s.snapshot();
                } catch (const std::exception&) {
                    return; // the crash, inside the snapshot
                }
                continue;
            }
            const unsigned pick = static_cast<unsigned>(rng() % 10);
            std::uint64_t target = 0;
            if (!acked.empty()) {
                auto it = acked.begin();
                std::advance(it, static_cast<long>(rng() % acked.size()));
                target = it->first;
            }
            const std::string members =
                "\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(rng() % 300, 'x') + "\"";
            item_result r;
            model next = acked;
            if (pick < 5 || target == 0) {
                r = wait_for<item_result>(
                    [&](item_callback cb) { s.create(members, std::move(cb)); });
                if (r.what == st::ok) {
                    next[r.id] = r.json;
                }
            } else if (pick < 7) {
                r = wait_for<item_result>(
                    [&](item_callback cb) { s.replace(target, members, {}, std::move(cb)); });
                next[target] = make_item(target, members);
            } else if (pick < 8) {
                r = wait_for<item_result>([&](item_callback cb) {
                    s.modify(
                        target,
                        [&](std::string_view cur) -> std::optional<std::string> {
                            return std::string(cur) + ",\"m\":" + std::to_string(i);
                        },
                        {}, std::move(cb));
                });
                next[target] = make_item(target, std::string(item_members(acked[target])) +
                                                     ",\"m\":" + std::to_string(i));
            } else {
                r = wait_for<item_result>(
                    [&](item_callback cb) { s.remove(target, {}, std::move(cb)); });
                next.erase(target);
            }
            if (r.what != st::ok) {
                // Not acknowledged: it may or may not have reached the disk (creates: we do
                // not know the id it would have had, so its id is the next one).
                if (pick < 5 || target == 0) {
                    next = acked;
                    const std::uint64_t id =
                        (acked.empty() ? max_acked_id
                                       : std::max(max_acked_id, acked.rbegin()->first)) +
                        1;
                    next[id] = make_item(id, members);
                }
                maybe = next;
                return;
            }
            acked = std::move(next);
            max_acked_id = std::max(max_acked_id, r.id);
        }
    }
};

/// Recovery on \p image must give the acknowledged state, or that plus the write in flight.
void check_recovery(const std::shared_ptr<hs::test::sim_disk>& image, const workload& w,
                    const std::string& where) {
    std::unique_ptr<durable_store> s;
    try {
        s = open_on(image);
    } catch (const std::exception& e) {
        FAIL() << where << ": recovery refused: " << e.what();
    }
    const model got = contents(*s);
    const bool ok = got == w.acked || (w.maybe && got == *w.maybe);
    EXPECT_TRUE(ok) << where << ": recovered " << got.size() << " items, acknowledged "
                    << w.acked.size();
    // Ids continue above every id acknowledged, even removed ones.
    const item_result c =
        wait_for<item_result>([&](item_callback cb) { s->create("", std::move(cb)); });
    EXPECT_EQ(c.what, st::ok) << where;
    EXPECT_GT(c.id, w.max_acked_id) << where;
    // And a second recovery of what the first left gives the same state (plus that create).
    s->close();
    s.reset();
    auto again = open_on(image);
    model expect = got;
    expect[c.id] = c.json;
    EXPECT_EQ(contents(*again), expect) << where << ": second recovery differs";
}

std::uint64_t operations_of_workload() {
    auto d = std::make_shared<hs::test::sim_disk>();
    auto s = open_on(d);
    workload w;
    w.run(*s);
    s->close();
    return d->operations();
}

TEST(durable_crash, at_every_file_system_operation_of_a_workload) {
    const std::uint64_t total = operations_of_workload();
    ASSERT_GT(total, 100u);
    for (std::uint64_t n = 1; n <= total; ++n) {
        auto d = std::make_shared<hs::test::sim_disk>();
        workload w;
        {
            std::unique_ptr<durable_store> s;
            try {
                s = open_on(d);
                d->fail_at(d->operations() + n, 0);
                w.run(*s);
            } catch (const hs::test::simulated_crash&) {
            }
            if (s) {
                s->close();
            }
        }
        for (std::uint64_t seed = 0; seed < 4; ++seed) {
            check_recovery(d->after_crash(n * 1000 + seed), w,
                           "crash at operation " + std::to_string(n) + ", image " +
                               std::to_string(seed));
        }
        if (HasFailure()) {
            return;
        }
    }
}

TEST(durable_crash, thousands_of_random_crashes) {
    const std::uint64_t total = operations_of_workload();
    std::mt19937_64 rng(20261202);
    for (int round = 0; round < 2000; ++round) {
        const std::uint64_t n = 1 + rng() % total;
        const std::uint64_t seed = rng();
        auto d = std::make_shared<hs::test::sim_disk>();
        workload w;
        {
            auto s = open_on(d);
            d->fail_at(d->operations() + n, 0);
            w.run(*s);
            s->close();
        }
        check_recovery(d->after_crash(seed), w,
                       "random crash at " + std::to_string(n) + " seed " + std::to_string(seed));
        if (HasFailure()) {
            return;
        }
    }
}

TEST(durable_crash, concurrent_writers_batches_of_many_records_random_crashes) {
    // Eight writers at once, so batches hold several records (a torn batch may keep any subset
    // of its records): each writer creates its own item, then rewrites it with a counter.
    // Recovery must keep every acknowledged counter or a later one that was sent, and nothing
    // that was never sent.
    constexpr int writers = 8;
    std::mt19937_64 rng(20261203);
    std::uint64_t max_batch = 0;
    for (int round = 0; round < 150; ++round) {
        auto d = std::make_shared<hs::test::sim_disk>();
        struct writer_state {
            std::uint64_t id = 0;
            int acked = -1; ///< counter acknowledged (0: the create)
            int sent = -1;  ///< counter last sent
        };
        std::vector<writer_state> ws(writers);
        {
            auto s = open_on(d);
            d->fail_at(d->operations() + 5 + rng() % 400, 0);
            std::vector<std::thread> threads;
            for (int t = 0; t < writers; ++t) {
                threads.emplace_back([&, t] {
                    writer_state& me = ws[static_cast<std::size_t>(t)];
                    for (int k = 0; k < 40; ++k) {
                        const std::string members =
                            "\"w\":" + std::to_string(t) + ",\"k\":" + std::to_string(k);
                        me.sent = k;
                        const item_result r = wait_for<item_result>([&](item_callback cb) {
                            if (k == 0) {
                                s->create(members, std::move(cb));
                            } else {
                                s->replace(me.id, members, {}, std::move(cb));
                            }
                        });
                        if (r.what != st::ok) {
                            return;
                        }
                        me.id = r.id;
                        me.acked = k;
                    }
                });
            }
            for (std::thread& t : threads) {
                t.join();
            }
            max_batch = std::max(max_batch, s->stats().max_batch);
            s->close();
        }
        const std::uint64_t seed = rng();
        auto img = d->after_crash(seed);
        std::unique_ptr<durable_store> s;
        try {
            s = open_on(img);
        } catch (const std::exception& e) {
            FAIL() << "round " << round << " seed " << seed << ": refused: " << e.what();
        }
        const model got = contents(*s);
        std::set<std::uint64_t> owned;
        for (const writer_state& me : ws) {
            if (me.acked < 0) {
                continue;
            }
            owned.insert(me.id);
            const auto it = got.find(me.id);
            ASSERT_NE(it, got.end()) << "round " << round << ": acknowledged item lost";
            const nlohmann::json j = nlohmann::json::parse(it->second);
            EXPECT_EQ(j["w"], static_cast<int>(&me - ws.data()));
            EXPECT_GE(j["k"].get<int>(), me.acked) << "round " << round << ": stale";
            EXPECT_LE(j["k"].get<int>(), me.sent) << "round " << round << ": never sent";
        }
        for (const auto& [id, json] : got) {
            if (!owned.contains(id)) { // a create in flight at the crash: only its first text
                EXPECT_EQ(nlohmann::json::parse(json)["k"], 0) << "round " << round;
            }
        }
        if (HasFailure()) {
            return;
        }
    }
    EXPECT_GT(max_batch, 1u) << "the writers never shared a batch";
}

TEST(durable_crash, what_recovery_after_a_kill_accepts_survives_a_later_power_cut) {
    // After kill -9 the kernel still holds the unsynced batch of the write in flight, so
    // recovery reads it and serves it: it must make it durable before anything is built on
    // it, or a later power cut leaves a hole before the next life's acknowledged writes.
    // Segments of 64 bytes are sized to each batch exactly: nothing to trim at recovery.
    for (const std::uint64_t segment : {std::uint64_t{4096}, std::uint64_t{64}}) {
        durable_options o = small();
        o.segment_bytes = segment;
        std::uint64_t total = 0;
        {
            auto d = std::make_shared<hs::test::sim_disk>();
            auto s = open_on(d, o);
            workload w;
            w.run(*s);
            s->close();
            total = d->operations();
        }
        for (std::uint64_t n = 1; n <= total; ++n) {
            auto d = std::make_shared<hs::test::sim_disk>();
            workload w;
            {
                auto s = open_on(d, o);
                d->fail_at(d->operations() + n, 0);
                w.run(*s);
                s->close();
            }
            auto killed = d->after_kill();
            model expect;
            {
                auto s = open_on(killed, o);
                expect = contents(*s);
                const item_result c =
                    wait_for<item_result>([&](item_callback cb) { s->create("", std::move(cb)); });
                ASSERT_EQ(c.what, st::ok);
                expect[c.id] = c.json;
                s->close();
            }
            for (std::uint64_t seed = 0; seed < 3; ++seed) {
                std::unique_ptr<durable_store> s;
                try {
                    s = open_on(killed->after_crash(n * 100 + seed), o);
                } catch (const std::exception& e) {
                    FAIL() << segment << "-byte segments, kill at operation " << n
                           << ", then power cut " << seed << ": refused: " << e.what();
                }
                EXPECT_EQ(contents(*s), expect) << segment << "-byte segments, kill at operation "
                                                << n << ", then power cut " << seed;
            }
            if (HasFailure()) {
                return;
            }
        }
    }
}

TEST(durable_recovery, a_flipped_bit_in_an_acknowledged_record_refuses_to_start) {
    auto d = std::make_shared<hs::test::sim_disk>();
    {
        durable_options o = small();
        o.segment_bytes = 1 << 20;
        auto s = open_on(d, o);
        for (int i = 0; i < 5; ++i) {
            wait_for<item_result>([&](item_callback cb) { s->create("\"k\":1", std::move(cb)); });
        }
        s->close();
    }
    d->settle();
    const std::string seg = journal::segment_name(1);
    std::string* bytes = d->content(seg);
    ASSERT_NE(bytes, nullptr);
    // The second record (acknowledged; three later batches follow it): one bit of its payload.
    const std::size_t second = 32 + 29 + 16; // header, first record (id, version, 14 bytes)
    (*bytes)[second + 29 + 4] ^= 0x10;
    try {
        open_on(d);
        FAIL() << "recovery accepted a corrupt acknowledged record";
    } catch (const journal::damaged_journal& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(seg), std::string::npos) << what;
        EXPECT_NE(what.find("offset " + std::to_string(second)), std::string::npos) << what;
        EXPECT_NE(what.find("refusing to start"), std::string::npos) << what;
    }
}

TEST(durable_recovery, a_torn_tail_is_cut_logged_and_kept_aside) {
    auto d = std::make_shared<hs::test::sim_disk>();
    {
        auto s = open_on(d);
        wait_for<item_result>([&](item_callback cb) { s->create("\"k\":1", std::move(cb)); });
        s->close();
    }
    d->settle();
    std::string* bytes = d->content(journal::segment_name(1));
    ASSERT_NE(bytes, nullptr);
    const std::size_t end = 32 + 29 + 16;
    bytes->replace(end, 10, "half recor"); // an unsynced record's first bytes
    std::vector<std::string> log;
    auto s = open_on(d, small(&log));
    EXPECT_EQ(contents(*s).size(), 1u);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("torn tail of 10 bytes"), std::string::npos) << log[0];
    bool kept = false;
    for (const std::string& n : d->file_names()) {
        kept = kept || n.starts_with("torn-");
    }
    EXPECT_TRUE(kept);
}

TEST(durable_recovery, bytes_after_the_end_of_a_segment_that_is_not_the_last_refuse_to_start) {
    auto d = std::make_shared<hs::test::sim_disk>();
    {
        auto s = open_on(d); // 4 KiB segments: these fill three
        for (int i = 0; i < 8; ++i) {
            wait_for<item_result>([&](item_callback cb) {
                s->create("\"p\":\"" + std::string(1000, 'x') + "\"", std::move(cb));
            });
        }
        s->close();
    }
    d->settle();
    const std::string seg = journal::segment_name(1);
    std::string* bytes = d->content(seg);
    ASSERT_NE(bytes, nullptr);
    ASSERT_GT(bytes->size(), 4000u);
    bytes->replace(4000, 8, "garbage!"); // in the first segment's preallocated zeros
    {
        hs::test::sim_directory sd(d);
        sd.create("snapshot-00000000000000000009.snap.tmp")->write_at(0, "unfinished");
    }
    d->settle();
    const std::vector<std::string> before = d->file_names();
    try {
        open_on(d);
        FAIL() << "recovery accepted bytes after a finished segment";
    } catch (const journal::damaged_journal& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(seg), std::string::npos) << what;
        EXPECT_NE(what.find("later segment follows"), std::string::npos) << what;
    }
    // A refusal changes nothing: not even the leftovers it would have removed.
    EXPECT_EQ(d->file_names(), before);
}

TEST(durable_recovery, a_damaged_store_id_refuses_to_start_rather_than_change_every_etag) {
    auto d = std::make_shared<hs::test::sim_disk>();
    {
        auto s = open_on(d);
        wait_for<item_result>([&](item_callback cb) { s->create("", std::move(cb)); });
        s->close();
    }
    d->settle();
    std::string* id = d->content("store-id");
    ASSERT_NE(id, nullptr);
    (*id)[3] = 'z';
    const std::string kept = *id;
    try {
        open_on(d);
        FAIL() << "recovery accepted a damaged store-id";
    } catch (const journal::damaged_journal& e) {
        EXPECT_NE(std::string(e.what()).find("store-id"), std::string::npos) << e.what();
    }
    EXPECT_EQ(*d->content("store-id"), kept);
}

TEST(durable_crash, a_crash_at_every_operation_of_recovery_then_recovery_again_agrees) {
    const std::uint64_t total = operations_of_workload();
    // Images with the most for recovery to do: crashes inside writes and snapshots leave torn
    // tails, temporary files, superseded snapshots and covered segments.
    for (std::uint64_t n = 1; n <= total; n += 3) {
        auto d = std::make_shared<hs::test::sim_disk>();
        workload w;
        {
            auto s = open_on(d);
            d->fail_at(d->operations() + n, 0);
            w.run(*s);
            s->close();
        }
        for (std::uint64_t seed = n * 1000; seed < n * 1000 + 2; ++seed) {
            std::uint64_t recovery_ops = 0;
            model clean;
            {
                auto img = d->after_crash(seed);
                const std::uint64_t start = img->operations();
                auto s = open_on(img);
                recovery_ops = img->operations() - start;
                clean = contents(*s);
            }
            for (std::uint64_t k = 1; k <= recovery_ops; ++k) {
                auto img = d->after_crash(seed);
                img->fail_at(img->operations() + k, 0);
                try {
                    auto s = open_on(img);
                    ADD_FAILURE() << "the crash at recovery operation " << k << " did not happen";
                } catch (const hs::test::simulated_crash&) {
                }
                auto again = open_on(img->after_crash(seed + k));
                EXPECT_EQ(contents(*again), clean)
                    << "workload crash " << n << " image " << seed << ", recovery crash at " << k
                    << " of " << recovery_ops;
                if (HasFailure()) {
                    return;
                }
            }
        }
    }
}

TEST(durable_writes, a_refusal_judged_on_a_write_in_flight_waits_for_it) {
    auto d = std::make_shared<hs::test::sim_disk>();
    auto s = open_on(d);
    wait_for<item_result>([&](item_callback cb) { s->create("\"a\":1", std::move(cb)); });
    precondition v1;
    v1.any_version = false;
    v1.versions = {1};
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<char, item_result>> order;
    auto note = [&](char who) {
        return [&, who](item_result r) {
            std::lock_guard l(mu);
            order.emplace_back(who, std::move(r));
            cv.notify_all();
        };
    };
    s->replace(1, "\"a\":2", {}, note('A'));
    s->replace(1, "\"a\":3", v1, note('B')); // 412 against A's version 2, once A is durable
    s->remove(1, {}, note('C'));
    s->modify(
        1, [](std::string_view) -> std::optional<std::string> { return "\"x\":1"; }, {},
        note('D')); // 404 against C, once C is durable
    {
        std::unique_lock l(mu);
        ASSERT_TRUE(cv.wait_for(l, 30s, [&] { return order.size() == 4; }));
    }
    std::string seq;
    for (const auto& [who, r] : order) {
        seq += who;
    }
    // B's answer cannot come before A's, nor D's before C's.
    EXPECT_LT(seq.find('A'), seq.find('B')) << seq;
    EXPECT_LT(seq.find('C'), seq.find('D')) << seq;
    for (const auto& [who, r] : order) {
        if (who == 'B') {
            EXPECT_EQ(r.what, st::precondition_failed);
            EXPECT_EQ(r.version, 2u);
        } else if (who == 'D') {
            EXPECT_EQ(r.what, st::not_found);
        } else {
            EXPECT_EQ(r.what, st::ok) << who;
        }
    }
}

TEST(durable_writes, a_refusal_judged_on_a_write_that_then_fails_fails_with_it) {
    auto d = std::make_shared<hs::test::sim_disk>();
    auto s = open_on(d);
    wait_for<item_result>([&](item_callback cb) { s->create("\"a\":1", std::move(cb)); });
    d->limit_space(d->used()); // A needs a segment of its own, which cannot be preallocated
    precondition v1;
    v1.any_version = false;
    v1.versions = {1};
    std::mutex mu;
    std::condition_variable cv;
    std::optional<item_result> a, b;
    s->replace(1, "\"a\":\"" + std::string(5000, 'x') + "\"", {}, [&](item_result r) {
        std::lock_guard l(mu);
        a = std::move(r);
        cv.notify_all();
    });
    s->replace(1, "\"a\":3", v1, [&](item_result r) {
        std::lock_guard l(mu);
        b = std::move(r);
        cv.notify_all();
    });
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 30s, [&] { return a && b; }));
    EXPECT_EQ(a->what, st::storage_full);
    // Version 2 never existed, so no answer may claim it: B either failed with A (judged
    // behind it) or, judged after A failed, succeeded on version 1.
    EXPECT_NE(b->what, st::precondition_failed);
    EXPECT_TRUE(b->what == st::storage_full || b->what == st::ok) << static_cast<int>(b->what);
}

TEST(durable_recovery, versions_etags_and_ids_continue_across_restarts) {
    auto d = std::make_shared<hs::test::sim_disk>();
    std::string prefix;
    {
        auto s = open_on(d);
        prefix = std::string(s->etag_prefix());
        for (int i = 0; i < 3; ++i) {
            wait_for<item_result>([&](item_callback cb) { s->create("", std::move(cb)); });
        }
        wait_for<item_result>(
            [&](item_callback cb) { s->replace(1, "\"v\":2", {}, std::move(cb)); });
        wait_for<item_result>([&](item_callback cb) { s->remove(3, {}, std::move(cb)); });
        s->snapshot();
        wait_for<item_result>(
            [&](item_callback cb) { s->replace(1, "\"v\":3", {}, std::move(cb)); });
        s->close();
    }
    auto s = open_on(d);
    EXPECT_EQ(s->etag_prefix(), prefix);
    const item_result g =
        wait_for<item_result>([&](item_callback cb) { s->get(1, std::move(cb)); });
    EXPECT_EQ(g.version, 3u);
    EXPECT_EQ(g.json, R"({"id":1,"v":3})");
    const item_result c =
        wait_for<item_result>([&](item_callback cb) { s->create("", std::move(cb)); });
    EXPECT_EQ(c.id, 4u); // 3 was removed, never reused
}

TEST(durable_faults, a_second_store_on_the_same_directory_is_refused) {
    auto d = std::make_shared<hs::test::sim_disk>();
    auto s = open_on(d);
    EXPECT_THROW(open_on(d), directory_locked);
}

TEST(durable_faults, disk_full_refuses_writes_with_storage_full_until_space_returns) {
    auto d = std::make_shared<hs::test::sim_disk>();
    std::vector<std::string> log;
    auto s = open_on(d, small(&log));
    wait_for<item_result>([&](item_callback cb) { s->create("\"a\":1", std::move(cb)); });
    d->limit_space(d->used()); // the next segment cannot be preallocated
    const std::string big(3000, 'x');
    item_result r;
    for (int i = 0; i < 3 && r.what == st::ok; ++i) {
        r = wait_for<item_result>(
            [&](item_callback cb) { s->create("\"b\":\"" + big + "\"", std::move(cb)); });
    }
    EXPECT_EQ(r.what, st::storage_full);
    const item_result g =
        wait_for<item_result>([&](item_callback cb) { s->get(1, std::move(cb)); });
    EXPECT_EQ(g.what, st::ok); // reads keep working
    d->limit_space(UINT64_MAX);
    const item_result again =
        wait_for<item_result>([&](item_callback cb) { s->create("\"c\":1", std::move(cb)); });
    EXPECT_EQ(again.what, st::ok);
    EXPECT_TRUE(s->writable());
    const model before = contents(*s);
    s->close();
    s.reset();
    EXPECT_EQ(contents(*open_on(d)), before);
    EXPECT_FALSE(log.empty());
}

TEST(durable_faults, an_fsync_error_is_never_retried_and_logged_once) {
    auto d = std::make_shared<hs::test::sim_disk>();
    std::vector<std::string> log;
    auto s = open_on(d, small(&log));
    wait_for<item_result>([&](item_callback cb) { s->create("\"a\":1", std::move(cb)); });
    // The next write's operations: write, fdatasync. Fail the fdatasync.
    d->fail_at(d->operations() + 2, EIO);
    const item_result r =
        wait_for<item_result>([&](item_callback cb) { s->create("\"b\":1", std::move(cb)); });
    EXPECT_EQ(r.what, st::unavailable);
    EXPECT_FALSE(s->writable());
    for (int i = 0; i < 3; ++i) {
        const item_result later = wait_for<item_result>(
            [&](item_callback cb) { s->replace(1, "\"c\":1", {}, std::move(cb)); });
        EXPECT_EQ(later.what, st::unavailable);
    }
    const item_result g =
        wait_for<item_result>([&](item_callback cb) { s->get(1, std::move(cb)); });
    EXPECT_EQ(g.json, R"({"id":1,"a":1})"); // the failed write was never visible
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("injected failure of fdatasync"), std::string::npos) << log[0];
    EXPECT_NE(log[0].find("503"), std::string::npos) << log[0];
}

TEST(durable_snapshot, compaction_bounds_the_journal_and_keeps_the_state) {
    auto d = std::make_shared<hs::test::sim_disk>();
    durable_options o = small();
    o.snapshot_after_bytes = 8192; // in the background, while writes go on
    auto s = open_on(d, o);
    for (int i = 0; i < 800; ++i) {
        const std::uint64_t id = 1 + static_cast<std::uint64_t>(i % 20);
        if (i < 20) {
            wait_for<item_result>([&](item_callback cb) { s->create("\"i\":0", std::move(cb)); });
        } else {
            wait_for<item_result>([&](item_callback cb) {
                s->replace(id, "\"i\":" + std::to_string(i), {}, std::move(cb));
            });
        }
    }
    for (int t = 0; t < 200 && s->stats().snapshots == 0; ++t) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_GT(s->stats().snapshots, 0u);
    const model before = contents(*s);
    s->close();
    std::size_t segments = 0, snapshots = 0;
    for (const std::string& n : d->file_names()) {
        segments += n.starts_with("journal-") ? 1 : 0;
        snapshots += n.ends_with(".snap") ? 1 : 0;
    }
    // 800 records of ~46 bytes fill ten 4 KiB segments uncompacted.
    EXPECT_LE(segments, 4u);
    EXPECT_EQ(snapshots, 1u);
    s.reset();
    EXPECT_EQ(contents(*open_on(d)), before);
}

} // namespace
} // namespace hs::store
