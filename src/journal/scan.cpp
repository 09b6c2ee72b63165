#include "journal/scan.hpp"

#include <cstring>

namespace hs::journal {

std::size_t next_nonzero(std::string_view bytes, std::size_t from) noexcept {
    std::size_t at = from;
    // Word by word over the long zero runs of preallocated space.
    while (at + 8 <= bytes.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes.data() + at, 8);
        if (w != 0) {
            break;
        }
        at += 8;
    }
    while (at < bytes.size() && bytes[at] == 0) {
        ++at;
    }
    return at;
}

std::size_t end_of_nonzero(std::string_view bytes) noexcept {
    std::size_t end = bytes.size();
    while (end >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes.data() + end - 8, 8);
        if (w != 0) {
            break;
        }
        end -= 8;
    }
    while (end > 0 && bytes[end - 1] == 0) {
        --end;
    }
    return end;
}

namespace {

/// True when a record of \p epoch with a good checksum, written in a batch that began after
/// sequence number \p expected, starts anywhere after the first byte of \p bytes: proof that
/// the record expected here had been made durable (a batch is written only after the one before
/// it was synced), so what is here is damage, not the torn tail of the last write. Valid records
/// of the expected one's own batch prove nothing: an unsynced write may reach the disk in any
/// order. The epoch is compared first (8 bytes), so a scan over zeros or an earlier life's
/// bytes stays linear.
bool durable_record_after(std::string_view bytes, std::uint64_t epoch,
                          std::uint64_t expected) noexcept {
    char tag[8];
    for (int i = 0; i < 8; ++i) {
        tag[i] = static_cast<char>((epoch >> (8 * i)) & 0xff);
    }
    const std::string_view want(tag, 8);
    for (std::size_t at = 1; at + record_header_size <= bytes.size(); ++at) {
        if (bytes.substr(at + 8, 8) != want) {
            // The epoch is not zero: a candidate needs a non-zero byte in its epoch field, so
            // a run of zeros is skipped in one step.
            const std::size_t nz = next_nonzero(bytes, at + 8);
            if (nz >= at + 16) {
                at = nz - 16; // the loop's ++at makes the epoch field end just past nz
            }
            continue;
        }
        const decoded_record d = decode_record(bytes.substr(at), epoch, 0);
        if ((d.what == decoded_record::status::ok ||
             d.what == decoded_record::status::out_of_order) &&
            d.batch_first > expected) {
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
        // a valid record of a later batch after it: damage, not an interrupted write.
        if (d.what == st::out_of_order || durable_record_after(rest, s.info.epoch, s.next_seq)) {
            s.what = segment_scan::status::damaged;
            s.bad_offset = s.valid_end;
        }
        return s;
    }
}

} // namespace hs::journal
