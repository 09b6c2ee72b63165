#pragma once
/// \file One worker = one thread, one event loop, its acceptor and its connections (a shard).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/access_log.hpp"
#include "hs/limits.hpp"
#include "hs/loop.hpp"
#include "hs/router.hpp"
#include "hs/transport.hpp"
#include "hs/worker_context.hpp"
#include "http/date_cache.hpp"
#include "server/acceptor.hpp"
#include "server/exchange.hpp"
#include "server/log_batch.hpp"
#include "server/pools.hpp"

namespace hs::server_detail {

class connection;

/// What every worker reads and nothing writes after start. The connection counter is the only
/// shared mutable value on the request path (one atomic add per accept and per close).
struct shared_config {
    const router* routes = nullptr;
    const limits* lim = nullptr;
    std::string server_name;
    access_log_sink* log = nullptr; ///< null: access log off
    access_log_format log_format = access_log_format::combined;
    std::atomic<std::size_t>* open_connections = nullptr;
    net::transport_factory* transports = nullptr; ///< null: plain TCP
    const std::function<void(worker_context&)>* on_start = nullptr;
    const std::function<void(worker_context&)>* on_stop = nullptr;
};

class worker {
public:
    /// \p listen_fd is borrowed: the server owns (and closes) the listeners.
    worker(const shared_config& cfg, int listen_fd, unsigned index);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// Runs the start hook, reports through \p started (with the hook's exception, if any),
    /// then serves until shutdown completes. On the worker's own thread.
    void run(const std::function<void(std::exception_ptr)>& started);

    /// From any thread: stop accepting, drain, and exit run() by \p deadline_ms (monotonic).
    void request_shutdown(std::int64_t deadline_ms);

    // ---- used by the acceptor and connections, on the loop thread ----
    const shared_config& config() const noexcept { return cfg_; }
    /// Shutdown was asked for (maybe not yet seen by the loop): responses say `Connection:
    /// close` from now on.
    bool stopping() const noexcept {
        return draining_ || shutdown_requested_.load(std::memory_order_relaxed) ||
               winding_down_.load(std::memory_order_relaxed);
    }
    /// From any thread: responses say `Connection: close` from now on, while the listener
    /// still accepts (a balancer's pooled connections wind down before the drain).
    void wind_down() noexcept { winding_down_.store(true, std::memory_order_relaxed); }
    net::loop& loop() noexcept { return loop_; }
    worker_context& context() noexcept { return context_; }
    std::string_view date() noexcept;
    /// An exchange to read a request into, pooled or new.
    exchange* acquire_exchange();
    /// The last reference to \p e is gone (from exchange::release, on the loop thread).
    void recycle(exchange* e) noexcept { pools_.put_exchange(e); }
    std::string acquire_output() { return pools_.take_output(); }
    void release_output(std::string&& s) noexcept { pools_.put_output(std::move(s)); }
    /// Appends a log line for a finished request (no-op when the log is off).
    void log(const access_record& rec) { log_.append(rec); }
    bool logging() const noexcept { return log_.enabled(); }
    /// Takes a new socket from the acceptor (counted in open_connections already).
    void adopt(int sock, std::string peer) noexcept;
    std::uint64_t next_connection_serial() noexcept { return ++serials_; }
    /// The last Content-Type that passed the field-value check: the same bytes need no second
    /// look (handlers send a handful of types, so this spares a scan per response).
    std::string_view known_good_type() const noexcept { return good_type_; }
    void remember_good_type(const std::string& t) {
        if (t.size() <= 64 && t != good_type_) {
            good_type_ = t;
        }
    }

    /// Runs the router on \p ex's request with a responder bound to \p ex. Returns the response
    /// if the handler answered before returning; a later answer arrives through on_answer().
    /// A handler that throws gets 500; `close` is set on it when its responder is still out
    /// (the exchange cannot be reused then).
    std::optional<response> dispatch(exchange& ex);
    /// True while \p ex's handler runs (an answer now is caught without queueing).
    bool dispatching(const exchange& ex) const noexcept { return dispatching_ == &ex; }
    /// Asks \p ex's body source for its next piece with a channel bound to \p ex. Returns the
    /// piece if it came before produce returned; a later one arrives through on_piece().
    std::optional<stream_piece> produce(exchange& ex);
    /// True while \p ex's body source is inside produce (a piece now is caught without queueing).
    bool producing(const exchange& ex) const noexcept { return producing_ == &ex; }
    /// A piece for \p ex, whose connection was \p waiting (null: gone).
    void on_piece(exchange& ex, connection* waiting, stream_piece&& p) noexcept;
    /// \p c has more to stream but has had its turn: resume_stream() on the next turn, after the
    /// other ready descriptors had theirs.
    void resume_later(connection& c);
    /// \p c is closing: forget a resume it asked for.
    void cancel_resume(connection& c) noexcept;
    void run_resumes() noexcept;
    /// A responder or piece channel finished (loop thread): one outstanding answer fewer.
    void answered() noexcept { --outstanding_; }
    /// A responder's answer for \p ex, whose connection was \p waiting (null: gone).
    void on_answer(exchange& ex, connection* waiting, response&& r) noexcept;
    /// A connection is closed: it is destroyed at the end of this loop iteration.
    void retire(connection& c) noexcept;

    /// One turn of the loop: events, posted tasks, timers, then retired connections are freed
    /// and log lines handed over. run() is made of these; tests drive a worker with it.
    void turn(int max_wait_ms);
    /// The open connections, for tests (loop thread).
    const std::vector<std::unique_ptr<connection>>& connections() const noexcept { return conns_; }

private:
    void start_drain();
    void free_retired() noexcept;

    const shared_config& cfg_;
    net::loop loop_;
    worker_context context_;
    http::date_cache date_;
    std::time_t date_second_ = 0;
    std::uint64_t date_iteration_ = ~std::uint64_t{0};

    pools pools_;
    log_batch log_;
    acceptor acceptor_;
    std::vector<std::unique_ptr<connection>> conns_; ///< connection::index_ is its place here
    std::vector<std::unique_ptr<connection>> retired_;
    std::size_t live_ = 0;
    std::size_t outstanding_ = 0; ///< responders given out and not yet answered
    std::uint64_t serials_ = 0;
    std::string good_type_;

    // dispatch in progress (loop thread only)
    exchange* dispatching_ = nullptr;
    std::optional<response> immediate_;
    // produce in progress (loop thread only)
    exchange* producing_ = nullptr;
    std::optional<stream_piece> immediate_piece_;
    std::vector<connection*> resume_;   ///< streams that yielded their turn
    std::vector<connection*> resuming_; ///< the ones being resumed (capacity kept)

    std::atomic<bool> shutdown_requested_{false};
    std::atomic<bool> winding_down_{false};
    std::atomic<std::int64_t> shutdown_deadline_{0};
    bool draining_ = false;
};

} // namespace hs::server_detail
