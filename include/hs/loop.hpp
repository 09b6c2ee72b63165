#pragma once
/// \file The event loop: one epoll instance, its timers and its mailbox, run by one thread.
///
/// The server's workers are users of it, and so is anything else that wants readiness events on
/// a worker's thread: a database client's socket, a journal's completion eventfd, a TLS
/// transport. Everything but post() and mailbox::post() is for the loop's own thread.
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "hs/timer_wheel.hpp"
#include "hs/unique_function.hpp"

namespace hs::net {

class loop;

/// Wants readiness events for one descriptor. The loop never owns it: the owner removes (or
/// forgets) its registration before destroying it.
class io_handler {
public:
    /// \p events are epoll's bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    virtual void on_io(std::uint32_t events) = 0;

protected:
    ~io_handler() = default;
};

/// A deadline with its own callback, owned by its user (embed it; nothing is allocated).
/// Scheduled on one loop at a time; destroying it cancels it.
class timer : private timer_wheel::entry {
public:
    timer() = default;
    explicit timer(unique_function<void()> on_fire) : on_fire_(std::move(on_fire)) {}
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;
    ~timer() { cancel(); }

    void set_callback(unique_function<void()> on_fire) { on_fire_ = std::move(on_fire); }
    /// True while scheduled.
    bool pending() const noexcept { return linked(); }
    /// Unschedules it; no-op when not scheduled.
    inline void cancel() noexcept;

private:
    friend class loop;
    loop* owner_ = nullptr;
    unique_function<void()> on_fire_;
};

/// The thread-safe way into a loop: queued tasks run on the loop's thread. Reference-counted so
/// that whoever may post later (a responder, a store's completion) keeps it alive: once the loop
/// is gone, post() refuses and destroys the task on the caller's thread.
class mailbox {
public:
    mailbox();
    ~mailbox();
    mailbox(const mailbox&) = delete;
    mailbox& operator=(const mailbox&) = delete;

    /// From any thread. False when the loop has closed the mailbox (the task is destroyed).
    bool post(unique_function<void()> task);
    /// True on the thread that is running the loop this mailbox belongs to, inside run().
    bool on_loop_thread() const noexcept;

private:
    friend class loop;
    int wake_fd_ = -1; ///< eventfd, owned here so a late post never writes to a reused fd
    std::mutex mu_;
    std::vector<unique_function<void()>> tasks_;
    bool closed_ = false;
    bool wake_pending_ = false; ///< the eventfd was written since the loop last took the tasks
};

/// One epoll instance with a timer wheel (100 ms ticks) and a mailbox.
class loop {
public:
    loop();
    /// Closes the mailbox (queued and later tasks are destroyed, not run) and the epoll fd.
    ~loop();
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    // ---- descriptors (loop thread) ----
    /// Registers \p fd for \p events (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLET, EPOLLEXCLUSIVE...);
    /// readiness calls h.on_io(). Throws std::system_error.
    void add(int fd, std::uint32_t events, io_handler& h);
    /// Changes the interest of a registered \p fd (EPOLL_CTL_MOD). Throws std::system_error.
    void modify(int fd, std::uint32_t events, io_handler& h);
    /// Unregisters \p fd; events already gathered for \p h in this iteration are not delivered.
    void remove(int fd, io_handler& h) noexcept;
    /// For an owner about to close its descriptor (which unregisters it without a syscall): the
    /// events already gathered for \p h in this iteration are not delivered.
    void forget(io_handler& h) noexcept;

    // ---- timers (loop thread) ----
    /// (Re)schedules \p t to fire \p after from now (at most one tick late, never early).
    void schedule(timer& t, std::chrono::milliseconds after) noexcept {
        schedule_at(t, now_ms_ + after.count());
    }
    /// (Re)schedules \p t for the monotonic time \p deadline_ms (see now_ms()).
    void schedule_at(timer& t, std::int64_t deadline_ms) noexcept;
    /// Monotonic milliseconds, read once per iteration.
    std::int64_t now_ms() const noexcept { return now_ms_; }
    /// Reads the clock again (after a long callback).
    std::int64_t update_time() noexcept;
    /// Counts iterations (for per-iteration caches such as a Date header).
    std::uint64_t iteration() const noexcept { return iteration_; }

    /// Runs \p task on this thread later in the current iteration, after the callback that is
    /// running returns (loop thread; no lock, no syscall). For work that must not run inside its
    /// caller's callback, such as answering a request from a database client's on_io.
    void defer(unique_function<void()> task) { deferred_.push_back(std::move(task)); }

    // ---- other threads ----
    /// Queues \p task to run on the loop's thread; from any thread. False once the loop is gone.
    bool post(unique_function<void()> task) { return mailbox_->post(std::move(task)); }
    /// The mailbox, for code that may post after this loop is destroyed.
    const std::shared_ptr<mailbox>& shared_mailbox() const noexcept { return mailbox_; }
    /// True on the thread currently inside run() or run_once() of this loop.
    bool in_loop_thread() const noexcept { return current() == this; }
    /// The loop the calling thread is running, or null.
    static loop* current() noexcept;

    // ---- running ----
    /// One iteration: waits for events (at most \p max_wait_ms, -1 for no bound besides the
    /// timers), delivers them, runs posted tasks, then fires due timers; deferred tasks run
    /// after each of those steps. Not re-entrant: a callback that calls it gets
    /// std::logic_error. Callbacks should not throw; one that does is reported on standard error
    /// and the loop goes on.
    void run_once(int max_wait_ms = -1);
    /// Iterates until stop().
    void run();
    /// Makes run() return after the current iteration; from any thread.
    void stop() noexcept;

private:
    struct wake_handler final : io_handler {
        loop* owner = nullptr;
        void on_io(std::uint32_t) override;
    };
    void run_posted();
    void run_deferred();
    template <class F> void guarded(F&& f) noexcept;
    friend class timer;

    int epfd_ = -1;
    std::shared_ptr<mailbox> mailbox_;
    wake_handler wake_;
    std::int64_t now_ms_;
    std::uint64_t iteration_ = 0;
    timer_wheel wheel_;
    std::vector<unique_function<void()>> deferred_;
    std::vector<unique_function<void()>> running_tasks_; ///< posted tasks being run (capacity kept)
    std::span<epoll_event> pending_; ///< the events of the iteration being delivered
    std::size_t next_event_ = 0;
    std::atomic<bool> stop_{false};
    epoll_event events_[256];
};

inline void timer::cancel() noexcept {
    if (linked() && owner_ != nullptr) { // an unlinked timer's owner may be gone
        owner_->wheel_.cancel(*this);
    }
}

/// Monotonic milliseconds (CLOCK_MONOTONIC), the clock of every deadline.
std::int64_t monotonic_ms() noexcept;

} // namespace hs::net
