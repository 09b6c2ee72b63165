// Parser throughput: a minimal request and a browser-sized one with 15 headers.
#include <benchmark/benchmark.h>

#include <string>

#include "http/framing.hpp"
#include "http/request_parser.hpp"

namespace {

const std::string minimal = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const std::string browser =
    "GET /data/12345?fields=name,age&sort=desc HTTP/1.1\r\n"
    "Host: www.example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/index.html\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f6a1c2d9e8b7a6f5e4d3c2b1a0f9e8d; theme=dark; lang=en; "
    "tracking=abcdef0123456789\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Cache-Control: max-age=0\r\n"
    "If-None-Match: \"abc123\"\r\n\r\n";

void parse(benchmark::State& state, const std::string& req) {
    hs::limits lim;
    hs::http::request_parser p(lim);
    hs::http::request_head head;
    for (auto _ : state) {
        p.reset();
        auto r = p.parse(req, head);
        auto f = hs::http::plan_request(head, lim);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(f);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_parse_minimal(benchmark::State& s) {
    parse(s, minimal);
}
void BM_parse_browser_15_headers(benchmark::State& s) {
    parse(s, browser);
}
BENCHMARK(BM_parse_minimal);
BENCHMARK(BM_parse_browser_15_headers);

} // namespace

BENCHMARK_MAIN();
