#pragma once
/// \file One libpq connection driven from an event loop, in non-blocking pipeline mode.
///
/// It connects (PQconnectStart/PQconnectPoll, the socket registered in the loop), runs a setup
/// script once per connection (the schema's migration), prepares the statements, and then sends
/// queries: every query is followed by its own Sync, so each is its own transaction and one's
/// error never aborts another's; the queries submitted in one loop iteration leave in one
/// flush. A query completes when its Sync has come back (committed, visible to every client of
/// the database). Lost, timed out or failed to connect: every query in flight fails with
/// `lost` (its outcome unknown) and the connection tries again after a backoff.
#include <libpq-fe.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hs/loop.hpp"
#include "hs/unique_function.hpp"

namespace hs::store::pg {

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// What came back for one query.
struct reply {
    enum class status : std::uint8_t {
        ok,      ///< committed; `rows` holds its result
        error,   ///< the server refused it (rolled back); `sqlstate` and `message` say why
        lost,    ///< no answer: the connection broke or timed out; it may or may not have run
        refused, ///< not sent: no connection, or the queue is full
    };
    status what = status::ok;
    result_ptr rows;
    std::string sqlstate;
    std::string message;
};

/// A prepared statement: its name is its index in the list given to the connection.
struct statement {
    std::string sql;
    int params = 0;
};

struct pipeline_options {
    std::string conninfo;               ///< a libpq connection string or URI
    std::string setup_sql;              ///< run once per connection before preparing
    std::vector<statement> statements;  ///< prepared on every connection
    std::int64_t timeout_ms = 5000;     ///< connect, setup and every query's deadline
    std::size_t max_queue = 1024;       ///< queued + in flight; past it, refused at once
    std::int64_t backoff_min_ms = 50;   ///< first reconnection delay (doubles per failure)
    std::int64_t backoff_max_ms = 2000; ///< the longest one
    /// Sees the setup script's last result; a non-empty answer is an error that fails the
    /// connection (for instance a schema newer than this server).
    std::function<std::string(const PGresult&)> check_setup;
    std::function<void(const std::string&)> log; ///< connection events (may be empty)
    /// Told when the connection becomes ready (true) and when a ready one is lost (false).
    std::function<void(bool)> on_ready;
};

/// Counters, read by the owner's thread.
struct pipeline_stats {
    std::uint64_t queries = 0; ///< sent
    std::uint64_t flushes = 0; ///< batches handed to the socket (one per loop iteration)
    std::uint64_t max_batch = 0;
    std::uint64_t connects = 0; ///< connections that reached ready
    std::uint64_t failures = 0; ///< connections lost or refused
};

/// Lives on one loop and is used only from its thread.
class pipeline final : private net::io_handler {
public:
    enum class state : std::uint8_t { waiting, connecting, setting_up, preparing, ready };
    using callback = unique_function<void(reply)>;
    static constexpr int max_params = 6;

    pipeline(net::loop& l, const pipeline_options& o);
    /// Fails whatever is queued or in flight (lost/refused) and closes the connection.
    ~pipeline();
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    /// Starts connecting (once; later connections happen by themselves).
    void start();
    /// Sends prepared statement \p stmt with text parameters (null: SQL NULL) in this
    /// iteration's flush; \p done runs exactly once, on this thread, never inside this call.
    void submit(int stmt, std::array<const char*, max_params> params, callback done);
    /// Fails everything and stops reconnecting; later submits are refused.
    void close();

    state current() const noexcept { return state_; }
    bool ready() const noexcept { return state_ == state::ready; }
    /// Queued + in flight.
    std::size_t outstanding() const noexcept { return queued_.size() + in_flight_.size(); }
    const pipeline_stats& stats() const noexcept { return stats_; }

private:
    struct query {
        int stmt = -1; ///< -1: a Prepare of statement `prepare`
        int prepare = -1;
        std::array<std::string, max_params> values;
        std::array<bool, max_params> null{};
        std::int64_t deadline_ms = 0;
        callback done;
        result_ptr result; ///< the statement's result, kept until its Sync arrives
        bool got_result = false;
    };

    void on_io(std::uint32_t events) override;
    void connect();
    void poll_connect();
    void read_setup();
    void begin_prepare();
    void read_results();
    void schedule_flush();
    void flush();
    void finish_writing();
    void on_timer();
    void arm_timer();
    /// Drops the connection: fails every query (in flight: lost; queued: refused) and
    /// schedules a reconnection.
    void fail(const std::string& why);
    void watch(std::uint32_t events);
    void unwatch() noexcept;
    void complete(query& q, reply r);

    net::loop& loop_;
    const pipeline_options& o_;
    PGconn* conn_ = nullptr;
    state state_ = state::waiting;
    bool closed_ = false;
    bool started_ = false;
    int fd_ = -1; ///< registered descriptor, -1 when none
    std::uint32_t events_ = 0;
    bool flush_scheduled_ = false;
    std::deque<query> queued_;    ///< not sent yet
    std::deque<query> in_flight_; ///< sent, oldest first
    std::string setup_error_;     ///< the setup script's first error
    result_ptr setup_last_;       ///< its last result with rows
    std::int64_t backoff_ms_ = 0;
    std::int64_t phase_deadline_ms_ = 0; ///< connect/setup deadline
    std::uint64_t rand_ = 0x9e3779b97f4a7c15u;
    net::timer timer_; ///< deadlines
    net::timer retry_; ///< reconnection
    pipeline_stats stats_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); ///< for deferred tasks
};

} // namespace hs::store::pg
