#pragma once
/// \file One worker = one thread, one epoll loop, its listener and its connections (a shard).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hs/access_log.hpp"
#include "hs/limits.hpp"
#include "hs/router.hpp"
#include "hs/unique_function.hpp"
#include "http/date_cache.hpp"
#include "net/event_loop.hpp"
#include "net/fd.hpp"
#include "net/timer_wheel.hpp"

namespace hs::server_detail {

class connection;
struct read_state;

/// What every worker reads and nothing writes after start. The connection counter is the only
/// shared mutable value on the request path (one atomic add per accept and per close).
struct shared_config {
    const router* routes = nullptr;
    const limits* lim = nullptr;
    std::string server_name;
    access_log_sink* log = nullptr; ///< null: access log off
    access_log_format log_format = access_log_format::combined;
    std::atomic<std::size_t>* open_connections = nullptr;
};

/// Monotonic milliseconds, the clock of every deadline.
std::int64_t monotonic_ms() noexcept;

class worker final : public response_sink {
public:
    worker(const shared_config& cfg, net::fd listener);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// Runs the loop on the calling thread until shutdown completes.
    void run();

    /// From any thread: stop accepting, drain, and exit run() by \p deadline_ms (monotonic).
    void request_shutdown(std::int64_t deadline_ms);

    /// The responder's way in, from any thread.
    void deliver(std::uint32_t slot, std::uint32_t generation, response&& r) noexcept override;

    // ---- used by connections, on the loop thread ----
    const shared_config& config() const noexcept { return cfg_; }
    net::timer_wheel& timers() noexcept { return timers_; }
    std::int64_t now_ms() const noexcept { return now_ms_; }
    std::string_view date() noexcept;
    std::unique_ptr<read_state> acquire_read_state();
    void release_read_state(std::unique_ptr<read_state> rs) noexcept;
    std::string acquire_output();
    void release_output(std::string&& s) noexcept;
    /// Appends a log line for a finished request (no-op when the log is off).
    void log(const access_record& rec);
    bool logging() const noexcept { return cfg_.log != nullptr; }
    /// Runs the router with a responder bound to (slot, a new generation); returns the response
    /// if the handler answered before returning. A later answer arrives via on_response, and
    /// one for an earlier request or a closed connection is dropped by its generation.
    std::optional<response> dispatch(const request& rq, std::uint32_t slot);
    /// A connection is closed: its slot is freed at the end of this loop iteration.
    void retire(std::uint32_t slot) noexcept;

private:
    void on_listener() noexcept;
    void run_posted();
    void post(unique_function<void()> task);
    void start_drain();

    const shared_config& cfg_;
    net::fd listener_;
    net::poller poller_;
    net::wakeup wakeup_;
    std::int64_t now_ms_;
    net::timer_wheel timers_;
    http::date_cache date_;
    std::time_t date_second_ = 0;

    std::vector<std::unique_ptr<connection>> slots_;
    std::vector<std::uint32_t> generations_;
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> retired_;
    std::size_t live_ = 0;

    std::vector<std::unique_ptr<read_state>> read_pool_;
    std::vector<std::string> output_pool_;
    std::string log_buf_;
    std::int64_t log_submitted_ms_ = 0;
    std::string over_capacity_; ///< the whole 503 response for connections past the cap

    // dispatch in progress (loop thread only)
    bool dispatching_ = false;
    std::uint32_t dispatch_slot_ = 0;
    std::optional<response> immediate_;

    // cross-thread
    std::mutex posted_mu_;
    std::vector<unique_function<void()>> posted_;
    std::atomic<bool> shutdown_requested_{false};
    std::atomic<std::int64_t> shutdown_deadline_{0};
    bool draining_ = false;
    std::int64_t accept_paused_until_ = 0;
};

} // namespace hs::server_detail
