#pragma once
/// \file Accepting: the listener's handler, the connection cap, and the 503 past it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hs/loop.hpp"

namespace hs::server_detail {

class worker;

/// Accepts on one listening socket (shared by all workers, or this worker's own with
/// --reuse-port) and hands new sockets to the worker. Loop thread only.
///
/// Past the connection cap, the socket gets a prebuilt 503 and a lingering close: the write
/// side is shut and the request is read and dropped until the client closes or `linger_ms`
/// passes, so the client reads the 503 instead of a reset. At most `max_refusals` such sockets
/// linger at once; past that they are closed at once.
class acceptor final : public net::io_handler {
public:
    static constexpr std::size_t max_refusals = 256;
    static constexpr std::int64_t linger_ms = 2000;
    static constexpr int accepts_per_wakeup = 64;

    acceptor(worker& w, int listen_fd, std::string refusal_response);
    ~acceptor();
    acceptor(const acceptor&) = delete;
    acceptor& operator=(const acceptor&) = delete;

    /// Starts listening for connections on the loop.
    void start();
    /// Stops accepting for good (drain); lingering refusals finish on their own.
    void stop() noexcept;
    /// Frees refusals that finished during the loop turn (worker, after each turn).
    void free_dead() noexcept {
        if (!dead_.empty()) {
            free_dead_now();
        }
    }

    void on_io(std::uint32_t events) override;

private:
    class refusal;
    void refuse(int sock) noexcept;
    void free_dead_now() noexcept;
    void drop(refusal* r) noexcept;

    worker& w_;
    int listen_fd_;
    std::string refusal_bytes_; ///< the whole 503 response
    bool registered_ = false;
    bool stopped_ = false;
    net::timer resume_; ///< after EMFILE: accepting pauses for 100 ms instead of spinning
    std::vector<std::unique_ptr<refusal>> refusals_;
    std::vector<std::unique_ptr<refusal>> dead_; ///< finished inside their own callbacks
};

} // namespace hs::server_detail
