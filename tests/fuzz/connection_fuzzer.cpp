// Fuzzes the real connection (server_detail::connection, driven by a worker over a socketpair)
// with arbitrary bytes cut at arbitrary points, pipelined requests included. Beyond "no crash"
// (ASan, UBSan), it checks:
//  - what the server writes is a sequence of well-formed HTTP/1.1 responses;
//  - once the client has finished sending, the connection ends by itself (no hang): every
//    request is answered or refused and the socket is closed.
// Input: byte 0 = number of cuts (low 4 bits), then one byte per cut (piece length), then the
// bytes to send.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/connection_harness.hpp"

namespace {

/// Bodies in hex, so no body can look like a status line (see count_responses).
std::string hex(std::string_view s) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : s) {
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 0xf];
    }
    return out;
}

hs::router make_routes() {
    hs::router r;
    r.add("GET", "/", [](const hs::request&, const hs::path_params&) {
        return hs::response(200, "text/plain", "root");
    });
    r.add("POST", "/echo", [](const hs::request& rq, const hs::path_params&) {
        return hs::response(200, "text/plain", hex(rq.body));
    });
    r.add("GET", "/item/{id}", [](const hs::request&, const hs::path_params& p) {
        return hs::response(200, "text/plain", hex(p.get("id")));
    });
    r.add("GET", "/later",
          hs::handler([](const hs::request& rq, const hs::path_params&, hs::responder res) {
              rq.worker->loop.post([res = std::move(res)]() mutable {
                  res.send(hs::response(200, "text/plain", "later"));
              });
          }));
    return r;
}

hs::limits small_limits() {
    hs::limits lim;
    lim.max_header_bytes = 1024;
    lim.max_header_fields = 16;
    lim.max_target_bytes = 256;
    lim.max_body_bytes = 4096;
    return lim;
}

[[noreturn]] void broken(const char* what, const std::string& out) {
    std::fprintf(stderr, "connection_fuzzer: %s\n--- output (%zu bytes) ---\n%.2000s\n", what,
                 out.size(), out.c_str());
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t ncuts = std::min<std::size_t>(data[0] & 0x0f, size - 1);
    const std::uint8_t* cuts = data + 1;
    const std::string input(reinterpret_cast<const char*>(data + 1 + ncuts), size - 1 - ncuts);

    hs::test::connection_harness h(make_routes(), small_limits());
    if (!h.connect()) {
        return 0;
    }
    std::size_t pos = 0;
    for (std::size_t i = 0; i <= ncuts && pos < input.size(); ++i) {
        const std::size_t want = i < ncuts ? std::max<std::size_t>(cuts[i], 1) : input.size();
        std::size_t left = std::min(want, input.size() - pos);
        for (int spins = 0; left > 0 && spins < 10000; ++spins) {
            const std::size_t sent = h.send(std::string_view(input).substr(pos, left));
            pos += sent;
            left -= sent;
            h.turn(1, 0);
            h.read_available();
            if (h.eof()) {
                break;
            }
        }
        if (h.eof()) {
            break; // the server closed (an error ended the connection)
        }
    }
    h.shutdown_write();
    for (int turns = 0; turns < 2000 && !h.eof(); ++turns) {
        h.turn(1, 0);
        h.read_available();
    }
    if (!h.eof()) {
        broken("the connection did not end after the client finished sending", h.received());
    }
    if (hs::test::count_responses(h.received(), true) < 0) {
        broken("the output is not a sequence of HTTP/1.1 responses", h.received());
    }
    return 0;
}
