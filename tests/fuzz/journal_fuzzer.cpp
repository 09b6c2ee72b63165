// The journal's decoders on arbitrary bytes: a segment header and a walk over the records after
// it never crash or read out of bounds, every record classified ok lies inside the input, and a
// record encoded from the input decodes back exactly while any one flipped bit is caught.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "journal/record.hpp"
#include "journal/scan.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

void walk(std::string_view in, std::uint64_t epoch, std::uint64_t seq) {
    while (!in.empty()) {
        const hs::journal::decoded_record d = hs::journal::decode_record(in, epoch, seq);
        if (d.what != hs::journal::decoded_record::status::ok) {
            return;
        }
        check(d.size >= hs::journal::record_header_size && d.size <= in.size());
        check(d.payload.data() >= in.data() &&
              d.payload.data() + d.payload.size() <= in.data() + in.size());
        in.remove_prefix(d.size);
        ++seq;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    hs::journal::segment_header h;
    if (hs::journal::decode_segment_header(in, h) == hs::journal::header_status::ok) {
        walk(in.substr(hs::journal::segment_header_size), h.epoch, h.first_seq);
    }
    walk(in, 0, 0);

    // Recovery's scan: records contiguous from the header, numbered one by one, inside the input.
    const hs::journal::segment_scan s = hs::journal::scan_segment(in);
    if (s.what != hs::journal::segment_scan::status::bad_header) {
        std::size_t at = hs::journal::segment_header_size;
        std::uint64_t seq = s.info.first_seq;
        for (const auto& r : s.records) {
            check(r.offset == at && r.seq == seq);
            at += hs::journal::record_header_size + r.payload.size();
            ++seq;
        }
        check(at == s.valid_end && s.valid_end <= in.size() && s.next_seq == seq);
        check(s.what != hs::journal::segment_scan::status::damaged || s.bad_offset == s.valid_end);
    }

    // Round trip of the input as a payload, then one bit flip chosen by the input.
    std::string rec;
    hs::journal::encode_record(rec, 0x5eed, 77, size > 0 ? data[0] : 0, in);
    const auto d = hs::journal::decode_record(rec, 0x5eed, 77);
    check(d.what == hs::journal::decoded_record::status::ok && d.payload == in &&
          d.size == rec.size());
    if (size >= 2) {
        const std::size_t bit =
            (static_cast<std::size_t>(data[0]) << 8 | data[1]) % (rec.size() * 8);
        rec[bit / 8] = static_cast<char>(rec[bit / 8] ^ (1 << (bit % 8)));
        const auto f = hs::journal::decode_record(rec, 0x5eed, 77);
        check(f.what == hs::journal::decoded_record::status::corrupt ||
              f.what == hs::journal::decoded_record::status::torn);
    }
    return 0;
}
