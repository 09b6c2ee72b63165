#pragma once
/// \file The journal on disk: numbered segment files appended in batches (one write and one
/// fdatasync per batch), snapshot files written aside and renamed into place, and the recovery
/// that reads them back. Record payloads are the caller's; this layer frames, numbers, syncs,
/// rotates and judges damage (docs/DECISIONS.md, "Journal").
///
/// Files in the directory:
///   journal-<first seq, 20 digits>.log   a segment: header, records, preallocated zeros
///   snapshot-<seq, 20 digits>.snap       the state before record <seq>: header, the caller's
///                                        records, a trailer record that repeats <seq>
///   *.tmp                                a snapshot being written (removed at recovery)
///   torn-<segment>-<offset>.bin          a torn tail cut off at recovery, kept for forensics
///   LOCK                                 held by the process that owns the directory
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "journal/directory.hpp"

namespace hs::journal {

/// Recovery found damage it must not guess about: the message names the file and the offset.
class damaged_journal : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct segment_ref {
    std::string name;
    std::uint64_t first_seq = 0;
    std::uint64_t bytes = 0; ///< of records (known for segments recovery kept)
};

std::string segment_name(std::uint64_t first_seq);
std::string snapshot_name(std::uint64_t seq);

/// A record handed to the writer: its type (1..254; 255 is the snapshot trailer) and payload.
struct record_ref {
    std::uint8_t type = 0;
    std::string_view payload;
};
inline constexpr std::uint8_t snapshot_trailer_type = 255;

/// Appends batches to the current segment, opening a fresh one (new epoch, preallocated) when
/// the batch does not fit. Used by one thread at a time (the flusher); segments() and
/// take_covered() may be called from another (the snapshotter).
class log_writer {
public:
    /// Continues after recovery: \p live are the segments recovery kept (their records stay
    /// needed until a snapshot covers them); the first batch opens a new segment at \p next_seq.
    log_writer(directory& dir, std::uint64_t next_seq, std::vector<segment_ref> live,
               std::uint64_t segment_bytes);

    /// Writes \p batch as records next_seq().. in one write, then fdatasync. Returns once they
    /// are durable. Throws std::system_error; then none of the batch counts, next_seq() is
    /// unchanged, and bytes of it that reached the file were cut back (ENOSPC) or do not matter
    /// (any other error: the caller stops writing for good).
    void append(const std::vector<record_ref>& batch);

    std::uint64_t next_seq() const noexcept { return next_seq_; }
    /// Bytes of records written by this writer since it started (for the snapshot trigger).
    std::uint64_t bytes_written() const noexcept { return written_.load(); }
    /// Forgets and returns the segments whose every record precedes \p seq, never the one being
    /// written: a snapshot covering up to \p seq makes them removable.
    std::vector<segment_ref> take_covered(std::uint64_t seq);

private:
    void open_segment(std::size_t min_bytes);
    void cut_back();

    directory& dir_;
    std::uint64_t next_seq_;
    std::uint64_t segment_bytes_;
    std::unique_ptr<file> current_; ///< null: the next batch opens a new segment
    std::uint64_t epoch_ = 0;
    std::uint64_t end_ = 0; ///< where the next batch goes
    std::uint64_t cap_ = 0; ///< bytes preallocated
    std::atomic<std::uint64_t> written_{0};
    std::string buf_;
    std::mutex list_mu_;
    std::vector<segment_ref> segments_; ///< live segments, oldest first (the current one last)
};

/// Writes a snapshot of the state before record \p seq: records as they come, then commit(),
/// which makes it durable and puts it in place (write temp, fdatasync, rename, fsync the
/// directory). Destroyed uncommitted, it removes its temporary file.
class snapshot_writer {
public:
    snapshot_writer(directory& dir, std::uint64_t seq);
    ~snapshot_writer();
    snapshot_writer(const snapshot_writer&) = delete;
    snapshot_writer& operator=(const snapshot_writer&) = delete;

    void add(std::uint8_t type, std::string_view payload);
    void commit();
    std::uint64_t bytes() const noexcept { return offset_ + buf_.size(); }

private:
    void spill();

    directory& dir_;
    std::uint64_t seq_;
    std::string tmp_;
    std::unique_ptr<file> file_;
    std::uint64_t epoch_;
    std::uint64_t next_ = 1;
    std::uint64_t offset_ = 0;
    std::string buf_;
    bool committed_ = false;
};

/// What recovery hands the caller, in order: the snapshot's records, then the journal's records
/// after it.
struct recovery_visitor {
    std::function<void(std::uint8_t type, std::string_view payload)> snapshot_record;
    std::function<void(std::uint64_t seq, std::uint8_t type, std::string_view payload)> record;
    std::function<void(const std::string& message)> log;
};

struct recovered {
    std::uint64_t snapshot_seq = 1; ///< records before this one are in the snapshot
    std::uint64_t next_seq = 1;     ///< the next record's number
    std::vector<segment_ref> live;  ///< segments still needed, oldest first
    std::uint64_t snapshot_bytes = 0;
};

/// Reads the directory back: the newest snapshot, then every record after it across the
/// segments. A torn tail of the last segment is kept aside, logged and cut off; damage anywhere
/// else (a bad snapshot, a gap between files, a bad record before valid ones of a later batch)
/// throws damaged_journal naming file and offset. Leftovers of interrupted work (temporary
/// files, covered segments and snapshots, a segment whose creation was cut short) are removed.
/// Running it again after a crash at any point of it gives the same result.
recovered recover(directory& dir, const recovery_visitor& visit);

} // namespace hs::journal
