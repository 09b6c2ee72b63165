#pragma once
/// \file The durable store (`--data-dir`): memory is the primary copy, every write is appended
/// to a journal and completes only once fdatasync covers it (API.md "Stores", durable).
///
/// The path of a write: the worker checks the precondition against the newest accepted state
/// (committed items plus an overlay of writes still in flight) and queues the record, under a
/// short lock; it never touches the disk. One flusher thread takes whatever has queued, writes
/// it as one batch and syncs once (group commit), then applies the batch to the committed
/// items, which are all a read ever sees, and runs the completions (they reach the connection
/// through the responder's cross-thread path). A snapshot thread copies the committed items
/// page by page while writes go on; since every record says the whole new state of its item,
/// replaying the journal from where the copy began over that fuzzy copy gives the state.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "journal/directory.hpp"
#include "journal/log.hpp"
#include "store/document_store.hpp"
#include "store/item_table.hpp"

namespace hs::store {

/// Another process holds the data directory.
class directory_locked : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct durable_options {
    /// Preallocated size of a journal segment (what an idle store occupies beside its
    /// snapshot: 16 MiB keeps a compacted store of 1M 100-byte items within 1.3x their text).
    std::uint64_t segment_bytes = std::uint64_t{16} << 20;
    /// A snapshot starts once the journal written since the last one exceeds this and the
    /// size of the last snapshot (so compaction work stays proportional to the writes).
    std::uint64_t snapshot_after_bytes = std::uint64_t{64} << 20;
    /// Where recovery notes and the first write error go (one line each).
    std::function<void(const std::string&)> log;
};

struct durable_stats {
    std::uint64_t batches = 0;   ///< flushes (one write + one fdatasync each)
    std::uint64_t records = 0;   ///< records made durable
    std::uint64_t max_batch = 0; ///< the largest batch
    std::uint64_t snapshots = 0; ///< snapshots completed
    std::uint64_t recovered_items = 0;
};

class durable_store : public document_store {
public:
    /// Takes the directory's lock and recovers its state. Throws directory_locked,
    /// journal::damaged_journal (refusing to start, naming file and offset) or
    /// std::system_error.
    durable_store(std::unique_ptr<journal::directory> dir, durable_options options);
    ~durable_store() override;
    durable_store(const durable_store&) = delete;
    durable_store& operator=(const durable_store&) = delete;

    /// Makes every accepted write durable (or fails it), runs every completion, and stops the
    /// threads. Operations after it complete at once with `unavailable`. Idempotent.
    void close();

    void create(std::string members, item_callback done) override;
    void get(std::uint64_t id, item_callback done) override;
    void list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
              list_callback done) override;
    void replace(std::uint64_t id, std::string members, precondition pre,
                 item_callback done) override;
    void modify(std::uint64_t id, member_edit edit, precondition pre, item_callback done) override;
    void remove(std::uint64_t id, precondition pre, item_callback done) override;
    std::string_view etag_prefix() const noexcept override { return prefix_; }

    /// Takes a snapshot now (on the calling thread) and compacts the journal behind it.
    void snapshot();
    /// False once a write error stopped the store for writes (503 from then on).
    bool writable() const noexcept { return !failed_.load(std::memory_order_acquire); }
    bool available() const noexcept override { return writable(); }
    durable_stats stats() const;
    std::size_t size() const;

private:
    /// A write accepted but not yet durable, or (type 0) an answer that depends on one: a
    /// 404 or 412 judged against a write still in flight is given only once that write is
    /// durable, and fails with it (no client sees a state that may never be).
    struct entry {
        std::uint8_t type = 0; ///< record type (put or remove), or 0: no record, `verdict`
        std::uint64_t id = 0;
        std::uint64_t version = 0;
        std::string json; ///< put: the item's new text
        item_callback done;
        item_result verdict; ///< type 0: the answer
    };
    /// The newest accepted state of an item with writes in flight.
    struct pending {
        std::string json; ///< empty: removed
        std::uint64_t version = 0;
        std::size_t in_flight = 0;
    };
    /// The newest accepted state of \p id (under write_mu_): pending, committed, or none.
    bool current(std::uint64_t id, std::string* json, std::uint64_t& version) const;
    /// Answers a write that will not happen (under write_mu_, which it may release): at once
    /// when it was judged on durable state, behind the writes in flight on \p id otherwise.
    void answer(std::unique_lock<std::mutex>& lock, item_result r, item_callback& done);
    /// Queues a write (under write_mu_), updating the overlay.
    void enqueue(entry e);
    /// Replace or remove: judged against the newest accepted state, then queued.
    void judged_write(std::uint64_t id, const precondition& pre, item_callback done,
                      std::uint8_t type, std::string json);
    /// Answers \p done at once when the store does not take writes now; true if it did.
    bool refuse_write(item_callback& done, std::uint64_t id);

    void recover();
    void flusher_main();
    void snapshot_main();
    void take_snapshot();
    void fail_writes(std::vector<entry>& batch, item_result::status why);
    void log(const std::string& line) const;

    std::unique_ptr<journal::directory> dir_;
    durable_options options_;
    std::string prefix_;

    // What reads see: only durable writes.
    mutable std::shared_mutex read_mu_;
    item_table committed_;

    // What writes are judged against, and the queue to the flusher.
    mutable std::mutex write_mu_;
    std::condition_variable queue_cv_;
    std::unordered_map<std::uint64_t, pending> overlay_;
    std::uint64_t next_id_ = 1;
    std::uint64_t generation_ = 0; ///< bumped when a failed batch rolls the overlay back
    std::vector<entry> queue_;
    bool closing_ = false;
    std::atomic<bool> failed_{false};

    std::unique_ptr<journal::log_writer> writer_; ///< the flusher's alone (and the recovery's)
    std::uint64_t applied_seq_ = 1;               ///< under read_mu_: next record to apply

    // Snapshots.
    std::mutex snap_mu_; ///< one snapshot at a time
    std::mutex snap_wait_mu_;
    std::condition_variable snap_cv_;
    bool snap_wanted_ = false;
    bool snap_stop_ = false;
    std::atomic<std::uint64_t> journal_at_snapshot_{0};
    std::atomic<std::uint64_t> last_snapshot_bytes_{0};

    mutable std::mutex stats_mu_;
    durable_stats stats_;

    std::thread flusher_;
    std::thread snapshotter_;
    std::once_flag closed_;
};

} // namespace hs::store
