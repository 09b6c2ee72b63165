#pragma once
/// \file The journal's on-disk format: a segment header, then records, each checked on its own.
///
/// Segment header (32 bytes, little-endian):
///   magic "HSJRNL\r\n" (8) | format version (4) | masked CRC-32C of the other 28 bytes (4) |
///   epoch (8) | sequence number of the segment's first record (8)
/// Record (29-byte header, then the payload):
///   payload length (4) | masked CRC-32C of everything after this field (4) |
///   epoch (8) | sequence number (8) | batch offset (4) | type (1) | payload
/// The batch offset is the record's distance from the first record of the write it went out in
/// (one write, then one fdatasync, per batch): a valid record whose batch began after a bad one
/// proves the bad one had been made durable, so the damage is not a torn write.
///
/// Why each field (docs/DECISIONS.md, "Journal"): the length frames the record; the checksum
/// catches torn and corrupted writes; the sequence number must grow by one, which catches lost,
/// repeated or reordered records; the epoch is random per segment and repeated in every record,
/// so bytes left in a reused or preallocated file by an earlier life never validate (a stale
/// record has a good checksum over its own epoch). A never-written (zeroed) header is the end.
///
/// This layer only encodes and classifies; what to do with a torn tail or a corrupt record in
/// the middle is the recovery's decision.
#include <cstdint>
#include <string>
#include <string_view>

namespace hs::journal {

inline constexpr std::string_view segment_magic{"HSJRNL\r\n", 8};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t segment_header_size = 32;
inline constexpr std::size_t record_header_size = 29;
inline constexpr std::size_t max_payload = 16 * 1024 * 1024;

struct segment_header {
    std::uint64_t epoch = 0;
    std::uint64_t first_seq = 0;
};

/// Appends the 32-byte header.
void encode_segment_header(std::string& out, const segment_header& h);

enum class header_status : std::uint8_t {
    ok,
    too_short,       ///< fewer than 32 bytes
    not_a_segment,   ///< wrong magic (or a zeroed file)
    unknown_version, ///< written by a later format
    corrupt          ///< checksum mismatch
};
/// Reads a segment header from the start of \p bytes.
header_status decode_segment_header(std::string_view bytes, segment_header& out) noexcept;

/// Appends one record. \p payload must not exceed max_payload (std::length_error). \p
/// batch_first is the sequence number of the first record written with it (0: this one).
void encode_record(std::string& out, std::uint64_t epoch, std::uint64_t seq, std::uint8_t type,
                   std::string_view payload, std::uint64_t batch_first = 0);

/// What the bytes at a position in a segment are.
struct decoded_record {
    enum class status : std::uint8_t {
        ok,           ///< a valid record: seq, type, payload and size are set
        end,          ///< nothing written here: no bytes, or a zeroed record header
        torn,         ///< a record begun but cut short (header or payload past the bytes)
        corrupt,      ///< a length past max_payload, or a checksum that does not match
        stale,        ///< a valid record of another epoch (left by an earlier life of the file)
        out_of_order, ///< valid and of this epoch, but not the sequence number expected
    };
    status what = status::end;
    std::uint64_t seq = 0;
    std::uint8_t type = 0;
    std::uint64_t batch_first = 0; ///< sequence number of the first record of its batch
    std::string_view payload;      ///< points into the bytes given
    std::size_t size = 0;          ///< header + payload, when ok
};

/// Classifies the record at the start of \p bytes, expecting \p epoch and \p expected_seq.
decoded_record decode_record(std::string_view bytes, std::uint64_t epoch,
                             std::uint64_t expected_seq) noexcept;

} // namespace hs::journal
