// Fuzzes the parsing path (head parser + framing + chunked decoder) with random splits, and
// checks invariants beyond "no crash":
//  - the same bytes give the same outcome whole, split in two, and in many pieces;
//  - a complete request consumed no more than was given, its head's views lie inside the input,
//    and a Content-Length body is exactly the bytes after the head;
//  - a decoded body never exceeds the body limit.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "support/pipeline.hpp"

namespace {

using hs::test::outcome;

outcome feed_in_pieces(const hs::limits& lim, std::string_view input, const std::uint8_t* cuts,
                       std::size_t ncuts, std::string& buf, hs::test::pipeline& p) {
    outcome o;
    std::size_t pos = 0;
    for (std::size_t i = 0; i <= ncuts; ++i) {
        const std::size_t step = i < ncuts ? cuts[i] : input.size();
        const std::size_t n = std::min(step, input.size() - pos);
        buf.append(input.substr(pos, n));
        pos += n;
        o = p.feed(buf);
        if (o.what != outcome::kind::need_more || pos == input.size()) {
            break;
        }
    }
    while (o.what == outcome::kind::need_more && pos < input.size()) {
        buf.append(input.substr(pos));
        pos = input.size();
        o = p.feed(buf);
    }
    (void)lim;
    return o;
}

bool same(const outcome& a, const outcome& b) {
    return a.what == b.what && a.status == b.status && a.body == b.body &&
           a.keep_alive == b.keep_alive;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    // First byte: how many cut lengths follow (0..7); then the cuts; the rest is the request.
    const std::size_t ncuts = std::min<std::size_t>(data[0] % 8, size - 1);
    const std::uint8_t* cuts = data + 1;
    const std::string_view input(reinterpret_cast<const char*>(data + 1 + ncuts), size - 1 - ncuts);

    hs::limits lim;
    lim.max_body_bytes = 4096; // small, so the fuzzer reaches the limit paths
    lim.max_header_bytes = 2048;
    lim.max_header_fields = 16;
    lim.max_target_bytes = 512;

    std::string whole_buf(input);
    hs::test::pipeline whole(lim);
    const outcome w = whole.feed(whole_buf);

    if (w.what == outcome::kind::complete) {
        if (w.consumed > input.size() || w.body.size() > lim.max_body_bytes) {
            std::abort();
        }
        const char* lo = whole_buf.data();
        const char* hi = whole_buf.data() + whole_buf.size();
        auto inside = [&](std::string_view v) {
            return v.empty() || (v.data() >= lo && v.data() + v.size() <= hi);
        };
        const auto& h = whole.head();
        if (!inside(h.method) || !inside(h.target) || !inside(h.query)) {
            std::abort();
        }
        for (const auto& f : h.fields) {
            if (!inside(f.name) || !inside(f.value)) {
                std::abort();
            }
        }
    }

    std::string split_buf;
    hs::test::pipeline split(lim);
    const outcome s = feed_in_pieces(lim, input, cuts, ncuts, split_buf, split);
    if (!same(w, s)) {
        std::abort(); // parsing depends on how the bytes were split
    }
    std::string byte_buf;
    hs::test::pipeline bytewise(lim);
    outcome b;
    for (std::size_t i = 0; i < input.size() && i < 4096; ++i) {
        byte_buf.push_back(input[i]);
        b = bytewise.feed(byte_buf);
        if (b.what != outcome::kind::need_more) {
            break;
        }
    }
    if (input.size() <= 4096 && !same(w, b)) {
        std::abort();
    }
    return 0;
}
