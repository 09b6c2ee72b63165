// The store: get at 1k and 1M items, create, list of 10k.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "store/memory_store.hpp"

namespace {

hs::store::memory_store& filled(std::size_t n) {
    static std::map<std::size_t, std::unique_ptr<hs::store::memory_store>> stores;
    auto& s = stores[n];
    if (!s) {
        s = std::make_unique<hs::store::memory_store>();
        for (std::size_t i = 0; i < n; ++i) {
            s->create(
                R"("name":"item","value":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")",
                [](hs::store::item_result) {});
        }
    }
    return *s;
}

void BM_get(benchmark::State& state) {
    auto& s = filled(static_cast<std::size_t>(state.range(0)));
    std::uint64_t id = 1;
    const auto n = static_cast<std::uint64_t>(state.range(0));
    for (auto _ : state) {
        id = id * 6364136223846793005ULL + 1442695040888963407ULL;
        s.get(id % n + 1,
              [](hs::store::item_result r) { benchmark::DoNotOptimize(r.json.data()); });
    }
}
BENCHMARK(BM_get)->Arg(1000)->Arg(1000000);

void BM_create(benchmark::State& state) {
    hs::store::memory_store s;
    for (auto _ : state) {
        s.create(R"("name":"item","value":12345)",
                 [](hs::store::item_result r) { benchmark::DoNotOptimize(r.id); });
    }
}
BENCHMARK(BM_create);

void BM_list_10k(benchmark::State& state) {
    auto& s = filled(10000);
    for (auto _ : state) {
        for (std::uint64_t after = 0; after < 10000; after += 1000) {
            s.list(after, 1000, SIZE_MAX,
                   [](hs::store::list_result r) { benchmark::DoNotOptimize(r.items.data()); });
        }
    }
}
BENCHMARK(BM_list_10k)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
