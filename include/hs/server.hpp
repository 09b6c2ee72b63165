#pragma once
/// \file The embedding API: a server = options + a router, run by one event loop per thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hs/access_log.hpp"
#include "hs/limits.hpp"
#include "hs/router.hpp"
#include "hs/transport.hpp"
#include "hs/worker_context.hpp"

namespace hs {

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080; ///< 0 picks an ephemeral port (see server::port)
    unsigned threads = 0;      ///< worker threads; 0 = one per CPU
    /// false: one listening socket shared by the workers, so a second process on the same port
    /// fails with "address in use". true: one SO_REUSEPORT listener per worker (the kernel
    /// spreads connections; other processes of the same user may join the port).
    bool reuse_port = false;
    /// >= 0: a listening socket to serve instead of binding host:port (socket activation: the
    /// server takes it over and closes it at the end; reuse_port does not apply).
    int listen_fd = -1;
    hs::limits limits;
    std::chrono::milliseconds shutdown_timeout{10'000}; ///< drain deadline after stop()
    std::shared_ptr<access_log_sink> access_log;        ///< null: no access log
    access_log_format log_format = access_log_format::combined;
    std::string server_name = "http_server"; ///< the Server header
    /// Wraps accepted sockets; null: plain TCP.
    std::shared_ptr<net::transport_factory> transports;
    /// Runs on each worker's thread before its loop serves (build per-worker state here and keep
    /// it in worker_context::state). An exception fails start().
    std::function<void(worker_context&)> on_worker_start;
    /// Runs on each worker's thread after it drained, while its loop still exists.
    std::function<void(worker_context&)> on_worker_stop;
};

/// An HTTP/1.1 server. start() binds and spawns the workers; stop() drains them.
class server {
public:
    server(server_options options, router routes);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Validates the options, binds the listeners, starts the worker threads and waits until
    /// each has run its start hook. Throws std::invalid_argument (options) or std::system_error.
    void start();

    /// The bound port (useful with port 0). Valid after start().
    std::uint16_t port() const noexcept;

    /// Before stop(), from any thread: every response from now on says `Connection: close`,
    /// while the listeners keep accepting, so the pooled connections of a load balancer wind
    /// down during a shutdown delay instead of being closed under it by stop().
    void begin_drain() noexcept;

    /// From any thread but a worker's: true when every worker's loop ran a posted task within
    /// \p timeout (a watchdog's proof of life: no loop is stuck).
    bool responsive(std::chrono::milliseconds timeout);

    /// Stops accepting, lets in-flight requests (and outstanding asynchronous answers) finish,
    /// closes idle connections, and waits for the workers to exit (at most shutdown_timeout,
    /// then connections are closed). Thread-safe and idempotent; returns after the workers have
    /// exited and their log lines are submitted.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hs
