#include "journal/log.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <random>
#include <system_error>

#include "journal/record.hpp"
#include "journal/scan.hpp"

namespace hs::journal {
namespace {

std::uint64_t random_epoch() {
    std::random_device rd;
    std::uint64_t e = 0;
    while (e == 0) { // zero would read as never-written bytes
        e = (std::uint64_t{rd()} << 32) ^ rd();
    }
    return e;
}

std::string numbered(std::string_view prefix, std::uint64_t n, std::string_view suffix) {
    char digits[21];
    std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(n));
    std::string out(prefix);
    out += digits;
    out += suffix;
    return out;
}

/// The number in `<prefix><20 digits><suffix>`, or false.
bool parse_numbered(std::string_view name, std::string_view prefix, std::string_view suffix,
                    std::uint64_t& n) {
    if (name.size() != prefix.size() + 20 + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix)) {
        return false;
    }
    const std::string_view digits = name.substr(prefix.size(), 20);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return ec == std::errc() && end == digits.data() + digits.size();
}

void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
}

std::uint64_t get_u64(std::string_view in) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
    }
    return v;
}

} // namespace

std::string segment_name(std::uint64_t first_seq) {
    return numbered("journal-", first_seq, ".log");
}

std::string snapshot_name(std::uint64_t seq) {
    return numbered("snapshot-", seq, ".snap");
}

// --- log_writer -----------------------------------------------------------------------------

log_writer::log_writer(directory& dir, std::uint64_t next_seq, std::vector<segment_ref> live,
                       std::uint64_t segment_bytes)
    : dir_(dir), next_seq_(next_seq), segment_bytes_(segment_bytes), segments_(std::move(live)) {
    // What earlier lives wrote and no snapshot has covered counts toward the next snapshot.
    std::uint64_t kept = 0;
    for (const segment_ref& s : segments_) {
        kept += s.bytes;
    }
    written_.store(kept);
}

void log_writer::open_segment(std::size_t min_bytes) {
    // A fresh file per segment and per process life (never one reused or appended to after a
    // restart): its new epoch makes every byte an earlier write left behind fail to validate.
    const std::string name = segment_name(next_seq_);
    const std::uint64_t cap = std::max<std::uint64_t>(segment_bytes_, min_bytes);
    const std::uint64_t epoch = random_epoch();
    std::unique_ptr<file> f;
    try {
        f = dir_.create(name);
        f->allocate(cap); // disk full shows here, before any record is at stake
        std::string header;
        encode_segment_header(header, {epoch, next_seq_});
        f->write_at(0, header);
        f->sync_data();
        dir_.sync(); // the file's name is as durable as what will be acknowledged in it
    } catch (const std::system_error&) {
        f.reset();
        try {
            dir_.remove(name);
        } catch (const std::system_error&) {
            // The original error is the one to report; a later open removes it or fails too.
        }
        throw;
    }
    current_ = std::move(f);
    epoch_ = epoch;
    end_ = segment_header_size;
    cap_ = cap;
    std::lock_guard lock(list_mu_);
    segments_.push_back({name, next_seq_});
}

void log_writer::append(const std::vector<record_ref>& batch) {
    if (batch.empty()) {
        return;
    }
    std::size_t size = 0;
    for (const record_ref& r : batch) {
        size += record_header_size + r.payload.size();
    }
    if (current_ == nullptr || end_ + size > cap_) {
        current_.reset();
        open_segment(segment_header_size + size);
    }
    buf_.clear();
    std::uint64_t seq = next_seq_;
    for (const record_ref& r : batch) {
        encode_record(buf_, epoch_, seq++, r.type, r.payload, next_seq_);
    }
    try {
        current_->write_at(end_, buf_);
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOSPC) {
            cut_back();
        }
        throw;
    }
    try {
        current_->sync_data();
    } catch (const std::system_error& e) {
        // Any failed sync is fatal, whatever its errno (ENOSPC included: NFS and thin disks
        // report it here): the kernel may have dropped the pages, so this batch must never be
        // written or synced again. EIO tells the caller to stop writing for good.
        throw std::system_error(EIO, std::generic_category(), e.what());
    }
    end_ += buf_.size();
    written_ += buf_.size();
    next_seq_ = seq;
}

void log_writer::cut_back() {
    // Cut the partial batch back to the last durable offset and finish this segment: the next
    // batch starts a new one (a new epoch), so nothing of this one can ever read as a record. A
    // segment left empty goes (the next one takes its number). A failure to cut is an I/O
    // error like any other: the torn bytes could stay in a segment that is no longer the last,
    // where recovery must take them for damage.
    try {
        if (end_ == segment_header_size) {
            current_.reset();
            dir_.remove(segment_name(next_seq_));
            dir_.sync();
            std::lock_guard lock(list_mu_);
            segments_.pop_back();
        } else {
            current_->truncate(end_);
            current_->sync_data();
            current_.reset();
        }
    } catch (const std::system_error& e) {
        throw std::system_error(EIO, std::generic_category(),
                                std::string("cutting back a write that found the disk full: ") +
                                    e.what());
    }
}

std::vector<segment_ref> log_writer::take_covered(std::uint64_t seq) {
    std::lock_guard lock(list_mu_);
    std::vector<segment_ref> out;
    // Segment i holds records [first_i, first_{i+1}): covered when first_{i+1} <= seq.
    std::size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1].first_seq <= seq) {
        ++n;
    }
    out.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
}

// --- snapshot_writer ------------------------------------------------------------------------

snapshot_writer::snapshot_writer(directory& dir, std::uint64_t seq)
    : dir_(dir), seq_(seq), tmp_(snapshot_name(seq) + ".tmp"), epoch_(random_epoch()) {
    dir_.remove(tmp_); // left by an attempt that failed
    file_ = dir_.create(tmp_);
    encode_segment_header(buf_, {epoch_, 1});
}

snapshot_writer::~snapshot_writer() {
    if (!committed_) {
        file_.reset();
        try {
            dir_.remove(tmp_);
        } catch (...) {
            // Recovery removes temporary files it finds.
        }
    }
}

void snapshot_writer::spill() {
    file_->write_at(offset_, buf_);
    offset_ += buf_.size();
    buf_.clear();
    // A megabyte at a time to the disk (RocksDB's bytes_per_sync): one sync of the whole
    // snapshot at the end would put hundreds of megabytes in the device queue ahead of the
    // journal's next fdatasync, and every write waiting on it.
    file_->sync_data();
}

void snapshot_writer::add(std::uint8_t type, std::string_view payload) {
    // One batch for the whole file: it is synced once, before its name says it is complete.
    encode_record(buf_, epoch_, next_, type, payload, 1);
    ++next_;
    if (buf_.size() >= 1 << 20) {
        spill();
    }
}

void snapshot_writer::commit() {
    std::string seq;
    put_u64(seq, seq_);
    add(snapshot_trailer_type, seq);
    spill();
    file_->sync_data();
    file_.reset();
    dir_.rename(tmp_, snapshot_name(seq_));
    dir_.sync();
    committed_ = true;
}

// --- recovery -------------------------------------------------------------------------------

namespace {

std::string at_offset(const directory& dir, const std::string& name, std::size_t offset) {
    return dir.describe(name) + " at offset " + std::to_string(offset);
}

/// Keeps the bytes after a torn tail in a file of their own, durably, before they are cut. They
/// were never acknowledged, so on a full disk they are only logged (false).
bool keep_aside(directory& dir, const std::string& name, std::string_view bytes,
                const recovery_visitor& visit) {
    const std::string tmp = name + ".tmp";
    try {
        dir.remove(tmp);
        {
            std::unique_ptr<file> f = dir.create(tmp);
            f->write_at(0, bytes);
            f->sync_data();
        }
        dir.rename(tmp, name);
        dir.sync();
        return true;
    } catch (const std::system_error& e) {
        if (e.code().value() != ENOSPC) {
            throw;
        }
        dir.remove(tmp);
        if (visit.log) {
            visit.log("journal: no room to keep the torn tail aside in " + name + " (" + e.what() +
                      "); it is cut without a copy");
        }
        return false;
    }
}

/// The last segment's fate, decided before anything changes.
struct last_segment_plan {
    std::string name;         ///< empty: no segment
    bool remove = false;      ///< no record in it
    std::uint64_t cut_at = 0; ///< just past its last record
    bool trim = false;        ///< the file goes on past cut_at: truncate it there
    std::string torn;         ///< the non-zero bytes after cut_at, kept aside first
};

} // namespace

recovered recover(directory& dir, const recovery_visitor& visit) {
    // Two passes: the first reads and judges every file and changes nothing, so a refusal
    // leaves the directory as it was found; the second removes leftovers and cuts the torn
    // tail, in an order that a crash at any point leaves work the next recovery redoes the
    // same way.
    recovered out;
    std::vector<std::uint64_t> snapshots;
    std::vector<segment_ref> segments;
    std::vector<std::string> leftovers;
    for (const std::string& name : dir.names()) {
        std::uint64_t n = 0;
        if (name.ends_with(".tmp")) {
            leftovers.push_back(name); // a snapshot or a torn tail's copy never completed
        } else if (parse_numbered(name, "snapshot-", ".snap", n)) {
            snapshots.push_back(n);
        } else if (parse_numbered(name, "journal-", ".log", n)) {
            segments.push_back({name, n});
        }
    }
    std::sort(snapshots.begin(), snapshots.end());
    std::sort(segments.begin(), segments.end(),
              [](const segment_ref& a, const segment_ref& b) { return a.first_seq < b.first_seq; });

    if (!snapshots.empty()) {
        const std::uint64_t seq = snapshots.back();
        const std::string name = snapshot_name(seq);
        const std::string bytes = dir.read(name);
        const segment_scan s = scan_segment(bytes);
        if (s.what == segment_scan::status::bad_header) {
            throw damaged_journal("snapshot " + at_offset(dir, name, 0) +
                                  " has no valid header; refusing to start");
        }
        if (s.what == segment_scan::status::damaged || s.valid_end != bytes.size() ||
            s.records.empty() || s.records.back().type != snapshot_trailer_type ||
            s.records.back().payload.size() != 8 || get_u64(s.records.back().payload) != seq) {
            const std::size_t at =
                s.what == segment_scan::status::damaged ? s.bad_offset : s.valid_end;
            throw damaged_journal("snapshot " + at_offset(dir, name, at) +
                                  " is damaged or incomplete; refusing to start");
        }
        for (std::size_t i = 0; i + 1 < s.records.size(); ++i) {
            visit.snapshot_record(s.records[i].type, s.records[i].payload);
        }
        out.snapshot_seq = seq;
        out.snapshot_bytes = bytes.size();
        for (std::size_t i = 0; i + 1 < snapshots.size(); ++i) {
            leftovers.push_back(snapshot_name(snapshots[i])); // superseded
        }
    }
    const std::uint64_t from = out.snapshot_seq;
    out.next_seq = from;

    // Segments the snapshot covers entirely are leftovers of a compaction cut short.
    std::size_t first = 0;
    while (first + 1 < segments.size() && segments[first + 1].first_seq <= from) {
        leftovers.push_back(segments[first].name);
        ++first;
    }
    segments.erase(segments.begin(), segments.begin() + static_cast<std::ptrdiff_t>(first));
    if (!segments.empty() && segments.front().first_seq > from) {
        throw damaged_journal("journal " + dir.describe(segments.front().name) +
                              " starts at record " + std::to_string(segments.front().first_seq) +
                              " but the snapshot ends before record " + std::to_string(from) +
                              ": records are missing; refusing to start");
    }

    last_segment_plan last_plan;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const segment_ref& seg = segments[i];
        const bool last = i + 1 == segments.size();
        const std::string bytes = dir.read(seg.name);
        const segment_scan s = scan_segment(bytes);
        if (s.what == segment_scan::status::bad_header) {
            const std::string_view body =
                std::string_view(bytes).substr(std::min(bytes.size(), segment_header_size));
            if (last && s.header != header_status::unknown_version && end_of_nonzero(body) == 0) {
                // Its creation was cut short before the header was synced (the header missing,
                // zeroed or torn, nothing after it): no record was ever written in it.
                last_plan.name = seg.name;
                last_plan.remove = true;
                break;
            }
            throw damaged_journal("journal " + at_offset(dir, seg.name, 0) +
                                  " has no valid segment header; refusing to start");
        }
        if (s.info.first_seq != seg.first_seq || (i > 0 && seg.first_seq != out.next_seq)) {
            throw damaged_journal("journal " + dir.describe(seg.name) + " starts at record " +
                                  std::to_string(s.info.first_seq) + " where record " +
                                  std::to_string(i > 0 ? out.next_seq : seg.first_seq) +
                                  " was expected: records are missing; refusing to start");
        }
        if (s.what == segment_scan::status::damaged) {
            throw damaged_journal("journal " + at_offset(dir, seg.name, s.bad_offset) +
                                  " is corrupt before its end (a valid record of a later write "
                                  "follows the bad one); refusing to start");
        }
        std::string_view rest = std::string_view(bytes).substr(s.valid_end);
        rest = rest.substr(0, end_of_nonzero(rest));
        if (!last && !rest.empty()) {
            // Only the write in progress at a crash can be torn, and it is in the newest
            // segment: a writer moves to a new segment only after the previous one's last
            // batch was synced or cut back.
            throw damaged_journal("journal " + at_offset(dir, seg.name, s.valid_end) +
                                  " has bytes that are no record after its last one, but a "
                                  "later segment follows; refusing to start");
        }
        for (const scanned_record& r : s.records) {
            if (r.seq >= from) {
                visit.record(r.seq, r.type, r.payload);
            }
        }
        out.next_seq = s.next_seq;
        segments[i].bytes = s.valid_end - segment_header_size;
        if (last) {
            last_plan.name = seg.name;
            last_plan.remove = s.records.empty(); // the new life's first segment takes its number
            last_plan.torn = std::string(rest);
            last_plan.cut_at = s.valid_end;
            last_plan.trim = bytes.size() > s.valid_end;
        }
    }
    if (out.next_seq < from) {
        throw damaged_journal("the journal ends before record " + std::to_string(out.next_seq) +
                              " but the snapshot covers records up to " + std::to_string(from) +
                              ": a segment is missing; refusing to start");
    }

    // Second pass. First the names read above are made durable (a snapshot renamed into place
    // just before a crash, say), then what they make redundant goes.
    if (last_plan.remove) {
        leftovers.push_back(last_plan.name);
        segments.pop_back();
    }
    dir.sync();
    if (!last_plan.torn.empty()) {
        // An interrupted write: never synced, so never acknowledged. Kept aside, logged, and
        // cut off, so the bytes cannot be misread later.
        const std::string copy =
            "torn-" + last_plan.name + "-" + std::to_string(last_plan.cut_at) + ".bin";
        const bool kept = keep_aside(dir, copy, last_plan.torn, visit);
        if (visit.log) {
            visit.log("journal: cut a torn tail of " + std::to_string(last_plan.torn.size()) +
                      " bytes off " + at_offset(dir, last_plan.name, last_plan.cut_at) +
                      (kept ? " (kept in " + copy + ")" : std::string()));
        }
    }
    for (const std::string& name : leftovers) {
        dir.remove(name);
    }
    if (!last_plan.name.empty() && !last_plan.remove) {
        // After a kill -9 the page cache still holds the batch that was being written when the
        // process died, unsynced: it was read above and will be served, and the next life's
        // acknowledged writes follow it, so it is made durable now (and the file ends at its
        // last record: the next life writes a file of its own).
        std::unique_ptr<file> f = dir.open(last_plan.name);
        if (last_plan.trim) {
            f->truncate(last_plan.cut_at);
        }
        f->sync_data();
    }
    dir.sync();
    out.live = std::move(segments);
    return out;
}

} // namespace hs::journal
