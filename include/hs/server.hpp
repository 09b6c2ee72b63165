#pragma once
/// \file The embedding API: a server = options + a router, run by one event loop per thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hs/access_log.hpp"
#include "hs/limits.hpp"
#include "hs/router.hpp"

namespace hs {

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080; ///< 0 picks an ephemeral port (see server::port)
    unsigned threads = 0;      ///< worker threads; 0 = one per CPU
    hs::limits limits;
    std::chrono::milliseconds shutdown_timeout{10'000}; ///< drain deadline after stop()
    std::shared_ptr<access_log_sink> access_log;        ///< null: no access log
    access_log_format log_format = access_log_format::combined;
    std::string server_name = "http_server"; ///< the Server header
};

/// An HTTP/1.1 server. start() binds and spawns the workers; stop() drains them.
class server {
public:
    server(server_options options, router routes);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds the listeners and starts the worker threads. Throws std::system_error on failure.
    void start();

    /// The bound port (useful with port 0). Valid after start().
    std::uint16_t port() const noexcept;

    /// Stops accepting, lets in-flight requests finish, closes idle connections, and waits for
    /// the workers to exit (at most shutdown_timeout, then connections are closed). Thread-safe
    /// and idempotent; returns after the workers have exited and their log lines are submitted.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace hs
