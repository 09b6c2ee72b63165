#pragma once
/// \file The PostgreSQL store (--database-url): several server instances share one database.
///
/// Every worker owns its connections (attach() from the server's per-worker start hook), each a
/// pg::pipeline on the worker's own loop: an operation issued on a worker goes out on that
/// worker's connection, in the flush of its loop iteration, and completes on that worker when
/// its transaction has committed. No thread blocks on the database. An operation issued on a
/// thread with no connections of its own (a test, a tool) is handed to a worker's loop.
///
/// Ids come from an identity column (ascending, never reused; gaps where a create was lost),
/// versions and compare-and-write happen in single statements, and the item's members are kept
/// as the exact text the client sent (a `text` column, not `jsonb`).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "hs/worker_context.hpp"
#include "store/document_store.hpp"
#include "store/postgres/pipeline.hpp"

namespace hs::store {

struct pg_options {
    std::string url;           ///< libpq connection URI or string
    std::string schema = "hs"; ///< where the tables live: [a-z_][a-z0-9_]*, created if missing
    std::chrono::milliseconds timeout{5000}; ///< connect, and every operation's answer
    unsigned connections_per_worker = 2;     ///< commits of one connection are serial
    std::size_t max_queue = 1024;            ///< per connection; past it, 503 at once
    std::function<void(const std::string&)> log;
};

/// Counters summed over the workers (each read on its own worker's thread, then added).
struct pg_stats {
    std::uint64_t queries = 0;
    std::uint64_t flushes = 0;
    std::uint64_t max_batch = 0;
    std::uint64_t connects = 0;
    std::uint64_t failures = 0;
    std::uint64_t operations = 0; ///< store operations begun (a PATCH is one, with 2+ queries)
};

class pg_store final : public document_store {
public:
    /// Checks the options (std::invalid_argument); connects nothing yet. \p max_workers bounds
    /// the worker indexes attach() will see.
    pg_store(pg_options o, unsigned max_workers);
    /// Every worker must have detached.
    ~pg_store() override;
    pg_store(const pg_store&) = delete;
    pg_store& operator=(const pg_store&) = delete;

    /// On worker \p w's thread (the start hook): opens its connections on its loop.
    void attach(worker_context& w);
    /// On worker \p w's thread (the stop hook): fails what is still outstanding and closes them.
    void detach(worker_context& w);

    void create(std::string members, item_callback done) override;
    void get(std::uint64_t id, item_callback done) override;
    void list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
              list_callback done) override;
    void replace(std::uint64_t id, std::string members, precondition pre,
                 item_callback done) override;
    void modify(std::uint64_t id, member_edit edit, precondition pre, item_callback done) override;
    void remove(std::uint64_t id, precondition pre, item_callback done) override;
    /// The store id kept in the database (empty until a connection has read it).
    std::string_view etag_prefix() const noexcept override;

    /// True when some worker has a connection ready (for a readiness probe; any thread).
    bool ready() const noexcept { return ready_connections_.load(std::memory_order_relaxed) > 0; }
    bool available() const noexcept override { return ready() && !etag_prefix().empty(); }
    /// Summed over the workers: a running one's are read on its loop (posted), a detached one's
    /// were kept when it detached. From a thread that is not a worker's.
    pg_stats stats();

private:
    struct session;
    struct slot {
        std::atomic<net::loop*> loop{nullptr}; ///< null again once detached
        std::unique_ptr<session> s;            ///< touched on that loop's thread only
        pg_stats final_stats;                  ///< written at detach, before `retired`
        std::atomic<bool> retired{false};
    };
    struct op;
    struct write_state;
    /// The common start of replace, modify and remove: answers at once (and returns null) when
    /// the write cannot be judged yet or names an id past bigint; else the state, owning \p done.
    std::shared_ptr<write_state> begin_write(std::uint64_t id, precondition& pre,
                                             item_callback& done);
    static void conditional_write(int stmt, std::shared_ptr<write_state> st, session& s);
    static void edit_attempt(std::shared_ptr<write_state> st, session& s);
    static pg_stats session_stats(const session& s);
    /// Runs \p f with the calling worker's session, or on some worker's loop when the caller is
    /// none; \p f gets null when no worker is attached (the operation must fail).
    template <class F> void on_session(F&& f);
    std::string check_setup(const PGresult& r);

    pg_options o_;
    pg::pipeline_options pipe_;
    std::unique_ptr<slot[]> slots_;
    unsigned capacity_;
    std::atomic<unsigned> next_foreign_{0};
    std::atomic<int> ready_connections_{0};
    std::mutex prefix_mu_;
    std::string prefix_;
    std::atomic<bool> prefix_set_{false};
};

} // namespace hs::store
