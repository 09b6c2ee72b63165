// Validating a JSON object body of 100 B .. 4 KiB: simdjson (DOM), RapidJSON (SAX), nlohmann,
// and our whole path (RapidJSON SAX + minify + id handling).
#include <benchmark/benchmark.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <string>

#include "app/json_object.hpp"

namespace {

std::string body_of(std::size_t size) {
    std::string s =
        R"({"name":"widget","price":12.5,"tags":["a","b"],"nested":{"ok":true,"n":null},"items":[)";
    int i = 0;
    while (s.size() + 40 < size) {
        s += (i ? "," : "");
        s += R"({"k":)" + std::to_string(i++) + R"(,"v":"text \u00e9 value"})";
    }
    s += "]}";
    return s;
}

void BM_simdjson_dom(benchmark::State& state) {
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    simdjson::dom::parser parser;
    simdjson::padded_string padded(body);
    for (auto _ : state) {
        auto doc = parser.parse(padded);
        benchmark::DoNotOptimize(doc.error());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_simdjson_dom_unpadded_copy(benchmark::State& state) {
    // What a server pays: the body is not padded in the connection buffer, so it is copied.
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    simdjson::dom::parser parser;
    for (auto _ : state) {
        auto doc = parser.parse(body.data(), body.size(), true);
        benchmark::DoNotOptimize(doc.error());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_rapidjson_sax_validate(benchmark::State& state) {
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        rapidjson::BaseReaderHandler<> h;
        rapidjson::Reader reader;
        rapidjson::MemoryStream ms(body.data(), body.size());
        constexpr unsigned flags = rapidjson::kParseValidateEncodingFlag |
                                   rapidjson::kParseIterativeFlag |
                                   rapidjson::kParseNumbersAsStringsFlag;
        auto r = reader.Parse<flags>(ms, h);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_nlohmann_accept(benchmark::State& state) {
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(nlohmann::json::accept(body));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_nlohmann_parse(benchmark::State& state) {
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        auto j = nlohmann::json::parse(body, nullptr, false);
        benchmark::DoNotOptimize(j);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_ours_normalize_object(benchmark::State& state) {
    const std::string body = body_of(static_cast<std::size_t>(state.range(0)));
    std::string members;
    for (auto _ : state) {
        auto e = hs::app::normalize_object(body, {}, members);
        benchmark::DoNotOptimize(e);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

#define SIZES ->Arg(100)->Arg(1024)->Arg(4096)
BENCHMARK(BM_simdjson_dom) SIZES;
BENCHMARK(BM_simdjson_dom_unpadded_copy) SIZES;
BENCHMARK(BM_rapidjson_sax_validate) SIZES;
BENCHMARK(BM_nlohmann_accept) SIZES;
BENCHMARK(BM_nlohmann_parse) SIZES;
BENCHMARK(BM_ours_normalize_object) SIZES;

} // namespace

BENCHMARK_MAIN();
