#pragma once
/// \file Reading one segment back at recovery: its valid records, where appending may continue,
/// and the rule for what follows the last valid record (API.md "Durable"):
///   - nothing, zeros, a torn record, or a bad one with nothing valid of a later batch after it:
///     the tail of an interrupted write (its batch was never synced, so never acknowledged); it
///     is cut off at `valid_end` (the caller keeps the bytes aside and logs it);
///   - a bad record followed by a valid record of this segment's epoch from a later batch, or a
///     valid record out of sequence: damage inside the log, never a torn write; recovery
///     refuses, naming the offset.
#include <cstdint>
#include <string_view>
#include <vector>

#include "journal/record.hpp"

namespace hs::journal {

struct scanned_record {
    std::uint64_t seq = 0;
    std::uint8_t type = 0;
    std::string_view payload; ///< points into the segment's bytes
    std::size_t offset = 0;   ///< where the record starts in the segment
};

struct segment_scan {
    enum class status : std::uint8_t {
        ok,         ///< records read; a tail after valid_end (if any) may be cut
        bad_header, ///< not a segment of ours (see `header`)
        damaged     ///< corruption before the end: refuse to start (see bad_offset)
    };
    status what = status::ok;
    header_status header = header_status::ok;
    segment_header info;
    std::vector<scanned_record> records;
    std::size_t valid_end = 0;  ///< just past the last valid record (or the header)
    std::uint64_t next_seq = 0; ///< the sequence number the next record must carry
    /// What follows valid_end: end (clean), torn, corrupt, stale (an earlier life's bytes).
    decoded_record::status tail = decoded_record::status::end;
    std::size_t bad_offset = 0; ///< damaged: where the bad record starts
};

/// The first non-zero byte of \p bytes at or after \p from (bytes.size() if none).
std::size_t next_nonzero(std::string_view bytes, std::size_t from) noexcept;
/// Just past the last non-zero byte of \p bytes (0 if all are zero).
std::size_t end_of_nonzero(std::string_view bytes) noexcept;

/// Reads \p file (a whole segment) and applies the rule above.
segment_scan scan_segment(std::string_view file);

} // namespace hs::journal
