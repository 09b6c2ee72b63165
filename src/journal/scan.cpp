#include "journal/scan.hpp"

namespace hs::journal {
namespace {

/// True when a record of \p epoch with a good checksum starts anywhere after the first byte of
/// \p bytes: proof that what came before it was not the tail of the last write. The epoch is
/// compared first (8 bytes), so a scan over zeros or an earlier life's bytes stays linear.
bool valid_record_after(std::string_view bytes, std::uint64_t epoch) noexcept {
    char tag[8];
    for (int i = 0; i < 8; ++i) {
        tag[i] = static_cast<char>((epoch >> (8 * i)) & 0xff);
    }
    const std::string_view want(tag, 8);
    for (std::size_t at = 1; at + record_header_size <= bytes.size(); ++at) {
        if (bytes.substr(at + 8, 8) != want) {
            continue;
        }
        const decoded_record d = decode_record(bytes.substr(at), epoch, 0);
        if (d.what == decoded_record::status::ok ||
            d.what == decoded_record::status::out_of_order) {
            return true;
        }
    }
    return false;
}

} // namespace

segment_scan scan_segment(std::string_view file) {
    segment_scan s;
    s.header = decode_segment_header(file, s.info);
    if (s.header != header_status::ok) {
        s.what = segment_scan::status::bad_header;
        return s;
    }
    s.valid_end = segment_header_size;
    s.next_seq = s.info.first_seq;
    using st = decoded_record::status;
    for (;;) {
        const std::string_view rest = file.substr(s.valid_end);
        const decoded_record d = decode_record(rest, s.info.epoch, s.next_seq);
        if (d.what == st::ok) {
            s.records.push_back({d.seq, d.type, d.payload, s.valid_end});
            s.valid_end += d.size;
            ++s.next_seq;
            continue;
        }
        s.tail = d.what;
        // A valid record of this epoch but the wrong number, or anything (zeros included) with
        // a valid record of this epoch after it: damage, not an interrupted write.
        if (d.what == st::out_of_order || valid_record_after(rest, s.info.epoch)) {
            s.what = segment_scan::status::damaged;
            s.bad_offset = s.valid_end;
        }
        return s;
    }
}

} // namespace hs::journal
