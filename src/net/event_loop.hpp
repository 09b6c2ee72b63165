#pragma once
/// \file epoll and an eventfd wake-up: the readiness half of a worker's loop.
#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "net/fd.hpp"

namespace hs::net {

/// One epoll instance. Registrations carry a 64-bit tag the owner decodes.
class poller {
public:
    poller();
    /// Registers \p sock for \p events (EPOLLIN, EPOLLOUT, EPOLLET, ...).
    void add(int sock, std::uint32_t events, std::uint64_t tag);
    void remove(int sock) noexcept;
    /// Waits up to \p timeout_ms (-1: forever); returns the ready events (EINTR: none).
    std::span<epoll_event> wait(int timeout_ms) noexcept;

private:
    fd epfd_;
    epoll_event events_[256];
};

/// An eventfd that wakes a poller from another thread.
class wakeup {
public:
    wakeup();
    int get() const noexcept { return fd_.get(); }
    void notify() noexcept; ///< thread-safe, async-signal-safe
    void drain() noexcept;  ///< on the loop thread, after it fired

private:
    fd fd_;
};

} // namespace hs::net
