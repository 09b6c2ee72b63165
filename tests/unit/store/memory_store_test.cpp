#include "store/memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace hs::store {
namespace {

item_result sync_create(document_store& s, std::string m) {
    item_result out;
    s.create(std::move(m), [&](item_result r) { out = std::move(r); });
    return out;
}
item_result sync_get(document_store& s, std::uint64_t id) {
    item_result out;
    s.get(id, [&](item_result r) { out = std::move(r); });
    return out;
}
/// Every item as one JSON array, read page by page.
std::string sync_list(document_store& s) {
    std::string out = "[";
    std::uint64_t after = 0;
    for (bool more = true; more;) {
        list_result page;
        s.list(after, 7, 100, [&](list_result r) { page = std::move(r); });
        for (const item& it : page.items) {
            out += out.size() > 1 ? "," : "";
            out += it.json;
        }
        more = page.more;
        if (!page.items.empty()) {
            after = page.items.back().id;
        }
    }
    return out + "]";
}

TEST(memory_store, ids_start_at_one_grow_and_are_never_reused) {
    memory_store s;
    EXPECT_EQ(sync_create(s, "").json, R"({"id":1})");
    EXPECT_EQ(sync_create(s, R"("a":1)").json, R"({"id":2,"a":1})");
    item_result removed;
    s.remove(2, {}, [&](item_result r) { removed = std::move(r); });
    EXPECT_EQ(removed.what, item_result::status::ok);
    EXPECT_EQ(sync_create(s, "").id, 3u);
    EXPECT_EQ(sync_get(s, 2).what, item_result::status::not_found);
    EXPECT_EQ(sync_list(s), R"([{"id":1},{"id":3}])");
}

TEST(memory_store, replace_never_creates) {
    memory_store s;
    item_result r;
    s.replace(1, R"("a":1)", {}, [&](item_result x) { r = std::move(x); });
    EXPECT_EQ(r.what, item_result::status::not_found);
    sync_create(s, R"("a":1)");
    s.replace(1, R"("b":2)", {}, [&](item_result x) { r = std::move(x); });
    EXPECT_EQ(r.json, R"({"id":1,"b":2})");
    EXPECT_EQ(sync_get(s, 1).json, R"({"id":1,"b":2})");
    EXPECT_EQ(sync_list(s), R"([{"id":1,"b":2}])");
}

TEST(memory_store, concurrent_writers_and_readers) {
    memory_store s;
    constexpr int threads = 8;
    constexpr int per_thread = 1000;
    std::vector<std::vector<std::uint64_t>> ids(threads);
    std::atomic<int> torn{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string m = "\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i);
                const item_result c = sync_create(s, m);
                ids[t].push_back(c.id);
                if (i % 3 == 0) {
                    s.replace(c.id, m + ",\"r\":1", {}, [](item_result) {});
                }
                if (i % 5 == 0) {
                    s.remove(c.id, {}, [](item_result) {});
                }
                const item_result g = sync_get(s, c.id);
                if (g.what == item_result::status::ok &&
                    g.json.find("\"t\":" + std::to_string(t) + ",") == std::string::npos) {
                    ++torn;
                }
                if (i % 100 == 0) {
                    const std::string all = sync_list(s);
                    if (all.front() != '[' || all.back() != ']') {
                        ++torn;
                    }
                }
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    EXPECT_EQ(torn.load(), 0);
    std::set<std::uint64_t> unique;
    for (const auto& v : ids) {
        unique.insert(v.begin(), v.end());
    }
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(threads * per_thread));
    EXPECT_EQ(*unique.begin(), 1u);
    EXPECT_EQ(*unique.rbegin(), static_cast<std::uint64_t>(threads * per_thread));
    EXPECT_EQ(s.size(),
              static_cast<std::size_t>(threads * per_thread - threads * (per_thread / 5)));
}

} // namespace
} // namespace hs::store

namespace hs::store {
namespace {

TEST(memory_store, removed_ranges_are_given_back_and_skipped_by_listings) {
    memory_store s;
    constexpr int n = 5000; // about five blocks of 1024 ids
    for (int i = 0; i < n; ++i) {
        sync_create(s, R"("v":1)");
    }
    const std::size_t full = s.blocks_in_use();
    EXPECT_GE(full, 5u);
    // Remove everything but the first and the last item.
    for (std::uint64_t id = 2; id < n; ++id) {
        s.remove(id, {}, [](item_result r) { EXPECT_EQ(r.what, item_result::status::ok); });
    }
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(s.blocks_in_use(), 2u); // the first and the last block; the middle ones are freed
    EXPECT_EQ(sync_list(s), R"([{"id":1,"v":1},{"id":5000,"v":1}])");
    EXPECT_EQ(sync_get(s, 3000).what, item_result::status::not_found);
    // The last block is still being filled: removing its only item keeps it for new ids.
    s.remove(n, {}, [](item_result) {});
    EXPECT_EQ(sync_create(s, "").id, static_cast<std::uint64_t>(n + 1));
    EXPECT_EQ(sync_list(s), R"([{"id":1,"v":1},{"id":5001}])");
    s.remove(1, {}, [](item_result) {});
    s.remove(n + 1, {}, [](item_result) {});
    EXPECT_EQ(sync_list(s), "[]");
    EXPECT_EQ(sync_create(s, "").id, static_cast<std::uint64_t>(n + 2)); // never reused
}

} // namespace
} // namespace hs::store
