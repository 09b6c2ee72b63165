#include "store/durable/durable_store.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <system_error>

#include "journal/record.hpp"
#include "store/memory_store.hpp"

namespace hs::store {
namespace {

// Record types of the store's journal and snapshots (payloads: unsigned LEB128 varints, then
// text). Every journal record states its item's whole new state, so replaying one twice, or
// over a snapshot that already has it, changes nothing.
constexpr std::uint8_t put_record = 1;    ///< id, version, the item's text
constexpr std::uint8_t remove_record = 2; ///< id
constexpr std::uint8_t items_record = 16; ///< snapshot: (id, version, length, text)...
constexpr std::uint8_t ids_record = 17;   ///< snapshot: the next id to hand out

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

/// Reads a varint from the front of \p in; false if it is cut short or too long.
bool get_varint(std::string_view& in, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
        const auto b = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        v |= std::uint64_t{b & 0x7fU} << shift;
        if ((b & 0x80) == 0) {
            return true;
        }
    }
    return false;
}

[[noreturn]] void bad_payload(std::uint8_t type) {
    // The checksum held, so this is a record we wrote and cannot read: a bug, not damage.
    throw journal::damaged_journal("a journal record of type " + std::to_string(type) +
                                   " has a payload this version cannot read; refusing to start");
}

bool is_hex16(std::string_view s) {
    if (s.size() != 16) {
        return false;
    }
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

} // namespace

durable_store::durable_store(std::unique_ptr<journal::directory> dir, durable_options options)
    : dir_(std::move(dir)), options_(std::move(options)) {
    if (!dir_->try_lock()) {
        throw directory_locked("another process holds " + dir_->describe("LOCK") +
                               ": is a second server running on this --data-dir?");
    }
    recover();
    flusher_ = std::thread([this] { flusher_main(); });
    snapshotter_ = std::thread([this] { snapshot_main(); });
}

durable_store::~durable_store() {
    close();
}

void durable_store::log(const std::string& line) const {
    if (options_.log) {
        options_.log(line);
    }
}

void durable_store::recover() {
    // The ETag prefix lives as long as the directory: versions continue across restarts, so
    // an ETag a client kept still matches the same content.
    const std::vector<std::string> names = dir_->names();
    bool have_id = false;
    for (const std::string& n : names) {
        have_id = have_id || n == "store-id";
    }
    if (have_id) {
        std::string id = dir_->read("store-id");
        while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) {
            id.pop_back();
        }
        if (!is_hex16(id)) {
            // Written whole (temp, sync, rename), so this is damage: a new prefix would
            // silently change every ETag a client holds.
            throw journal::damaged_journal(dir_->describe("store-id") +
                                           " does not hold 16 hex digits; refusing to start");
        }
        prefix_ = id;
    }

    journal::recovery_visitor v;
    v.snapshot_record = [this](std::uint8_t type, std::string_view p) {
        if (type == items_record) {
            while (!p.empty()) {
                std::uint64_t id = 0, version = 0, length = 0;
                if (!get_varint(p, id) || !get_varint(p, version) || !get_varint(p, length) ||
                    length > p.size() || id == 0) {
                    bad_payload(type);
                }
                committed_.put(id, version, std::string(p.substr(0, length)));
                p.remove_prefix(length);
            }
        } else if (type == ids_record) {
            std::uint64_t next = 0;
            if (!get_varint(p, next)) {
                bad_payload(type);
            }
            committed_.reserve_ids(next);
        } else {
            bad_payload(type);
        }
    };
    v.record = [this](std::uint64_t, std::uint8_t type, std::string_view p) {
        std::uint64_t id = 0, version = 0;
        if (!get_varint(p, id) || id == 0) {
            bad_payload(type);
        }
        if (type == put_record) {
            if (!get_varint(p, version)) {
                bad_payload(type);
            }
            committed_.put(id, version, std::string(p));
        } else if (type == remove_record) {
            committed_.reserve_ids(id + 1);
            committed_.erase(id);
        } else {
            bad_payload(type);
        }
    };
    v.log = [this](const std::string& line) { log(line); };
    journal::recovered r = journal::recover(*dir_, v);
    if (prefix_.empty()) {
        // A new directory (or one whose store-id was removed): after the journal was judged,
        // so a refusal leaves the directory as found.
        prefix_ = random_etag_prefix();
        dir_->remove("store-id.tmp");
        {
            std::unique_ptr<journal::file> f = dir_->create("store-id.tmp");
            f->write_at(0, prefix_ + "\n");
            f->sync_data();
        }
        dir_->rename("store-id.tmp", "store-id");
        dir_->sync();
    }
    applied_seq_ = r.next_seq;
    last_snapshot_bytes_.store(r.snapshot_bytes);
    next_id_ = committed_.next_id();
    stats_.recovered_items = committed_.size();
    writer_ = std::make_unique<journal::log_writer>(*dir_, r.next_seq, std::move(r.live),
                                                    options_.segment_bytes);
}

void durable_store::close() {
    std::call_once(closed_, [this] {
        {
            std::lock_guard lock(write_mu_);
            closing_ = true;
        }
        queue_cv_.notify_all();
        if (flusher_.joinable()) {
            flusher_.join(); // it writes what was accepted, then stops
        }
        {
            std::lock_guard lock(snap_wait_mu_);
            snap_stop_ = true;
        }
        snap_cv_.notify_all();
        if (snapshotter_.joinable()) {
            snapshotter_.join();
        }
    });
}

// --- reads: committed state only -------------------------------------------------------------

void durable_store::get(std::uint64_t id, item_callback done) {
    item_result r;
    r.id = id;
    {
        std::shared_lock lock(read_mu_);
        if (const item_table::slot* s = committed_.find(id)) {
            r.json = s->json;
            r.version = s->version;
        } else {
            r.what = item_result::status::not_found;
        }
    }
    done(std::move(r));
}

void durable_store::list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                         list_callback done) {
    list_result out;
    {
        std::shared_lock lock(read_mu_);
        committed_.list(after, limit, max_bytes, out);
    }
    done(std::move(out));
}

std::size_t durable_store::size() const {
    std::shared_lock lock(read_mu_);
    return committed_.size();
}

// --- writes: judged against the newest accepted state, acknowledged once durable --------------

bool durable_store::current(std::uint64_t id, std::string* json, std::uint64_t& version) const {
    if (const auto it = overlay_.find(id); it != overlay_.end()) {
        if (it->second.json.empty()) {
            return false; // a remove in flight
        }
        version = it->second.version;
        if (json != nullptr) {
            *json = it->second.json;
        }
        return true;
    }
    std::shared_lock lock(read_mu_);
    const item_table::slot* s = committed_.find(id);
    if (s == nullptr) {
        return false;
    }
    version = s->version;
    if (json != nullptr) {
        *json = s->json;
    }
    return true;
}

void durable_store::answer(std::unique_lock<std::mutex>& lock, item_result r, item_callback& done) {
    if (overlay_.contains(r.id)) {
        entry e;
        e.id = r.id;
        e.verdict = std::move(r);
        e.done = std::move(done);
        queue_.push_back(std::move(e));
        queue_cv_.notify_one();
        return;
    }
    lock.unlock();
    done(std::move(r));
}

void durable_store::enqueue(entry e) {
    pending& p = overlay_[e.id];
    p.json = e.type == put_record ? e.json : std::string();
    p.version = e.version;
    ++p.in_flight;
    queue_.push_back(std::move(e));
    queue_cv_.notify_one();
}

bool durable_store::refuse_write(item_callback& done, std::uint64_t id) {
    if (!closing_ && !failed_.load(std::memory_order_relaxed)) {
        return false;
    }
    item_result r;
    r.id = id;
    r.what = item_result::status::unavailable;
    done(std::move(r));
    return true;
}

void durable_store::create(std::string members, item_callback done) {
    std::unique_lock lock(write_mu_);
    if (closing_ || failed_.load(std::memory_order_relaxed)) {
        lock.unlock();
        refuse_write(done, 0);
        return;
    }
    entry e;
    e.type = put_record;
    e.id = next_id_++;
    e.version = 1;
    e.json = make_item(e.id, members);
    e.done = std::move(done);
    enqueue(std::move(e));
}

void durable_store::judged_write(std::uint64_t id, const precondition& pre, item_callback done,
                                 std::uint8_t type, std::string json) {
    item_result r;
    r.id = id;
    std::unique_lock lock(write_mu_);
    if (closing_ || failed_.load(std::memory_order_relaxed)) {
        lock.unlock();
        refuse_write(done, id);
        return;
    }
    std::uint64_t v = 0;
    if (!current(id, nullptr, v)) {
        r.what = item_result::status::not_found;
    } else if (!pre.holds(v)) {
        r.what = item_result::status::precondition_failed;
        r.version = v;
    } else {
        enqueue({type, id, type == put_record ? v + 1 : 0, std::move(json), std::move(done), {}});
        return;
    }
    answer(lock, std::move(r), done);
}

void durable_store::replace(std::uint64_t id, std::string members, precondition pre,
                            item_callback done) {
    // The text is built outside the lock.
    judged_write(id, pre, std::move(done), put_record, make_item(id, members));
}

void durable_store::modify(std::uint64_t id, member_edit edit, precondition pre,
                           item_callback done) {
    // As the memory store: the edit runs outside the lock on the version it read, and the
    // write is queued (or the refusal answered) only if that version is still the newest
    // accepted one.
    for (;;) {
        item_result r;
        r.id = id;
        std::string json;
        std::uint64_t seen = 0;
        std::uint64_t generation = 0;
        {
            std::unique_lock lock(write_mu_);
            generation = generation_;
            if (closing_ || failed_.load(std::memory_order_relaxed)) {
                lock.unlock();
                refuse_write(done, id);
                return;
            }
            if (!current(id, &json, seen)) {
                r.what = item_result::status::not_found;
            } else if (!pre.holds(seen)) {
                r.what = item_result::status::precondition_failed;
                r.version = seen;
            }
            if (r.what != item_result::status::ok) {
                answer(lock, std::move(r), done);
                return;
            }
        }
        std::optional<std::string> members = edit(item_members(json));
        std::string next;
        if (members) {
            next = make_item(id, *members);
        }
        std::unique_lock lock(write_mu_);
        std::uint64_t now = 0;
        if (closing_ || failed_.load(std::memory_order_relaxed) || generation != generation_ ||
            !current(id, nullptr, now) || now != seen) {
            continue; // judged again from the top
        }
        if (!members) {
            r.what = item_result::status::edit_refused;
            r.version = seen;
            answer(lock, std::move(r), done);
            return;
        }
        enqueue({put_record, id, seen + 1, std::move(next), std::move(done), {}});
        return;
    }
}

void durable_store::remove(std::uint64_t id, precondition pre, item_callback done) {
    judged_write(id, pre, std::move(done), remove_record, {});
}

// --- the flusher: group commit ----------------------------------------------------------------

void durable_store::fail_writes(std::vector<entry>& batch, item_result::status why) {
    {
        // Everything queued behind the failed batch was judged against it: it fails too, and
        // the accepted state falls back to what is durable.
        std::lock_guard lock(write_mu_);
        for (entry& e : queue_) {
            batch.push_back(std::move(e));
        }
        queue_.clear();
        overlay_.clear();
        next_id_ = committed_.next_id();
        ++generation_; // a modify that read a failed write's content must start again
    }
    for (entry& e : batch) {
        item_result r;
        r.id = e.id;
        r.what = why;
        e.done(std::move(r));
    }
}

void durable_store::flusher_main() {
    std::vector<entry> batch;
    std::vector<std::string> payloads;
    std::vector<journal::record_ref> refs;
    std::vector<item_result> results;
    bool full = false; // disk full now: logged once per episode
    for (;;) {
        batch.clear();
        {
            std::unique_lock lock(write_mu_);
            queue_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
            if (queue_.empty()) {
                return; // closing, and everything accepted has been answered
            }
            batch.swap(queue_);
        }
        payloads.resize(batch.size());
        refs.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].type == 0) {
                continue; // an answer: no record
            }
            std::string& p = payloads[i];
            p.clear();
            put_varint(p, batch[i].id);
            if (batch[i].type == put_record) {
                put_varint(p, batch[i].version);
                p += batch[i].json;
            }
            refs.push_back({batch[i].type, p});
        }
        if (failed_.load(std::memory_order_relaxed)) {
            fail_writes(batch, item_result::status::unavailable);
            continue;
        }
        try {
            writer_->append(refs);
        } catch (const std::system_error& e) {
            if (e.code().value() == ENOSPC) {
                if (!full) {
                    log(std::string("durable store: disk full (") + e.what() +
                        "); writes get 507 until space returns");
                }
                full = true;
                fail_writes(batch, item_result::status::storage_full);
            } else {
                // Never retried: after a failed fdatasync the kernel may have dropped the
                // dirty pages, so a retry that succeeds would prove nothing (PostgreSQL, 2018).
                failed_.store(true, std::memory_order_release);
                log(std::string("durable store: ") + e.what() +
                    "; writes are refused (503) from now on, restart once the disk is fixed");
                fail_writes(batch, item_result::status::unavailable);
            }
            continue;
        } catch (const std::exception& e) {
            failed_.store(true, std::memory_order_release);
            log(std::string("durable store: ") + e.what() + "; writes are refused from now on");
            fail_writes(batch, item_result::status::unavailable);
            continue;
        }
        if (full) {
            log("durable store: writes succeed again");
            full = false;
        }
        // Durable: copy the answers outside the locks, then make the batch visible at once.
        results.resize(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            item_result& r = results[i];
            if (batch[i].type == 0) {
                r = std::move(batch[i].verdict);
                continue;
            }
            r = item_result{};
            r.id = batch[i].id;
            r.version = batch[i].version;
            if (batch[i].type == put_record) {
                r.json = batch[i].json;
            }
        }
        {
            // Visible to reads first; the overlay entries say the same until retired below,
            // so a writer judging meanwhile sees one state. The writers' lock is not held while
            // waiting for the readers' lock.
            std::unique_lock rl(read_mu_);
            for (entry& e : batch) {
                if (e.type == put_record) {
                    committed_.put(e.id, e.version, std::move(e.json));
                } else if (e.type == remove_record) {
                    committed_.reserve_ids(e.id + 1);
                    committed_.erase(e.id);
                }
            }
            applied_seq_ = writer_->next_seq();
        }
        {
            std::lock_guard wl(write_mu_);
            for (const entry& e : batch) {
                if (e.type == 0) {
                    continue;
                }
                const auto it = overlay_.find(e.id);
                if (it != overlay_.end() && --it->second.in_flight == 0) {
                    overlay_.erase(it);
                }
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            batch[i].done(std::move(results[i]));
        }
        {
            std::lock_guard lock(stats_mu_);
            if (!refs.empty()) {
                ++stats_.batches;
                stats_.records += refs.size();
                stats_.max_batch = std::max<std::uint64_t>(stats_.max_batch, refs.size());
            }
        }
        const std::uint64_t since = writer_->bytes_written() - journal_at_snapshot_.load();
        if (since > std::max(options_.snapshot_after_bytes, last_snapshot_bytes_.load())) {
            {
                std::lock_guard lock(snap_wait_mu_);
                snap_wanted_ = true;
            }
            snap_cv_.notify_one();
        }
    }
}

// --- snapshots ----------------------------------------------------------------------------

void durable_store::snapshot_main() {
    // Background work: on a busy machine the workers and the flusher go first (nice 10, this
    // thread only: Linux applies a thread's own nice value to it alone).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    for (;;) {
        {
            std::unique_lock lock(snap_wait_mu_);
            snap_cv_.wait(lock, [&] { return snap_wanted_ || snap_stop_; });
            if (snap_stop_) {
                return;
            }
            snap_wanted_ = false;
        }
        try {
            take_snapshot();
        } catch (const std::system_error& e) {
            if (e.code().value() == ENOSPC) {
                // The journal still holds everything: the snapshot is only abandoned.
                log(std::string("durable store: snapshot abandoned: ") + e.what());
            } else if (!failed_.exchange(true)) {
                // An I/O error on this disk (a failed fsync of the directory the journal's
                // segments live in, too): no more writes are acknowledged on it.
                log(std::string("durable store: ") + e.what() +
                    " (during a snapshot); writes are refused (503) from now on");
            }
        } catch (const std::exception& e) {
            log(std::string("durable store: snapshot abandoned: ") + e.what());
        }
    }
}

void durable_store::snapshot() {
    take_snapshot();
}

void durable_store::take_snapshot() {
    std::lock_guard one(snap_mu_);
    std::uint64_t from = 0;
    {
        std::shared_lock lock(read_mu_);
        from = applied_seq_;
    }
    const std::uint64_t journal_mark = writer_->bytes_written();
    journal::snapshot_writer w(*dir_, from);
    std::uint64_t after = 0;
    std::uint64_t next_id = 0;
    std::string payload;
    for (;;) {
        list_result page;
        {
            std::shared_lock lock(read_mu_);
            // Short pages: the flusher's apply waits for the copy of at most one of them.
            committed_.list(after, 256, std::size_t{64} << 10, page);
            next_id = committed_.next_id();
        }
        for (const item& it : page.items) {
            if (payload.size() + it.json.size() + 32 > journal::max_payload) {
                w.add(items_record, payload);
                payload.clear();
            }
            put_varint(payload, it.id);
            put_varint(payload, it.version);
            put_varint(payload, it.json.size());
            payload += it.json;
            if (payload.size() >= 64 * 1024) {
                w.add(items_record, payload);
                payload.clear();
            }
        }
        if (page.items.empty() || !page.more) {
            break;
        }
        after = page.items.back().id;
        std::lock_guard lock(snap_wait_mu_);
        if (snap_stop_) {
            return; // shutting down: the temporary file goes with the writer
        }
    }
    if (!payload.empty()) {
        w.add(items_record, payload);
    }
    payload.clear();
    put_varint(payload, next_id);
    w.add(ids_record, payload);
    w.commit();
    // The snapshot is in place: what it covers can go. A crash in between leaves files that
    // recovery recognises as covered and removes.
    for (const journal::segment_ref& s : writer_->take_covered(from)) {
        dir_->remove(s.name);
    }
    for (const std::string& n : dir_->names()) {
        if (n.starts_with("snapshot-") && n.ends_with(".snap") &&
            n != journal::snapshot_name(from)) {
            dir_->remove(n);
        }
    }
    last_snapshot_bytes_.store(w.bytes());
    journal_at_snapshot_.store(journal_mark);
    std::lock_guard lock(stats_mu_);
    ++stats_.snapshots;
}

durable_stats durable_store::stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
}

} // namespace hs::store
