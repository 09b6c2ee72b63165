#include "hs/loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <exception>
#include <stdexcept>
#include <system_error>

namespace hs::net {
namespace {

thread_local loop* running_loop = nullptr;
thread_local const mailbox* running_mailbox = nullptr;

/// Sets the running loop for the current thread and restores the previous one (run_once may be
/// nested in a test that drives two loops from one thread).
class running_scope {
public:
    running_scope(loop* l, const mailbox* m) noexcept
        : prev_loop_(running_loop), prev_mailbox_(running_mailbox) {
        running_loop = l;
        running_mailbox = m;
    }
    ~running_scope() {
        running_loop = prev_loop_;
        running_mailbox = prev_mailbox_;
    }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    loop* prev_loop_;
    const mailbox* prev_mailbox_;
};

} // namespace

std::int64_t monotonic_ms() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// ---- mailbox ----

mailbox::mailbox() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

mailbox::~mailbox() {
    ::close(wake_fd_);
}

bool mailbox::post(unique_function<void()> task) {
    bool wake = false;
    {
        std::lock_guard lock(mu_);
        if (closed_) {
            return false; // the task is destroyed on return, outside the lock, on this thread
        }
        tasks_.push_back(std::move(task));
        wake = !std::exchange(wake_pending_, true);
    }
    if (wake) {
        // Outside the lock; one write per batch. The loop clears wake_pending_ when it takes
        // the tasks, after reading the eventfd, so no post is left without a wake-up. The fd
        // stays open while this mailbox lives (it is ours), so a late write is harmless.
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    }
    return true;
}

bool mailbox::on_loop_thread() const noexcept {
    return running_mailbox == this;
}

// ---- loop ----

loop* loop::current() noexcept {
    return running_loop;
}

loop::loop()
    : epfd_(::epoll_create1(EPOLL_CLOEXEC)), mailbox_(std::make_shared<mailbox>()),
      now_ms_(monotonic_ms()), wheel_(now_ms_) {
    if (epfd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
    wake_.owner = this;
    try {
        add(mailbox_->wake_fd_, EPOLLIN, wake_);
    } catch (...) {
        ::close(epfd_);
        throw;
    }
}

loop::~loop() {
    std::vector<unique_function<void()>> dropped;
    {
        std::lock_guard lock(mailbox_->mu_);
        mailbox_->closed_ = true;
        dropped.swap(mailbox_->tasks_);
    }
    dropped.clear(); // outside the lock: a task's captures may post or release on destruction
    deferred_.clear();
    wheel_.clear([](timer_wheel::entry& e) { static_cast<timer&>(e).owner_ = nullptr; });
    ::close(epfd_);
}

void loop::add(int fd, std::uint32_t events, io_handler& h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
    }
}

void loop::modify(int fd, std::uint32_t events, io_handler& h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl(MOD)");
    }
}

void loop::remove(int fd, io_handler& h) noexcept {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    forget(h);
}

void loop::forget(io_handler& h) noexcept {
    for (std::size_t i = next_event_; i < pending_.size(); ++i) {
        if (pending_[i].data.ptr == &h) {
            pending_[i].data.ptr = nullptr;
        }
    }
}

void loop::schedule_at(timer& t, std::int64_t deadline_ms) noexcept {
    if (t.owner_ != nullptr && t.owner_ != this) {
        t.cancel();
    }
    t.owner_ = this;
    wheel_.schedule(t, deadline_ms);
}

std::int64_t loop::update_time() noexcept {
    now_ms_ = monotonic_ms();
    return now_ms_;
}

void loop::wake_handler::on_io(std::uint32_t) {
    std::uint64_t v = 0;
    [[maybe_unused]] const auto n = ::read(owner->mailbox_->wake_fd_, &v, sizeof v);
    owner->run_posted();
}

template <class F> void loop::guarded(F&& f) noexcept {
    try {
        f();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hs::net::loop: a callback threw: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "hs::net::loop: a callback threw\n");
    }
}

void loop::run_posted() {
    {
        std::lock_guard lock(mailbox_->mu_);
        running_tasks_.swap(mailbox_->tasks_); // both keep their capacity
        mailbox_->wake_pending_ = false;
    }
    for (auto& t : running_tasks_) {
        guarded([&] { t(); });
    }
    running_tasks_.clear();
}

void loop::run_deferred() {
    // Tasks may defer more; bounded so a task that always defers cannot starve the loop.
    for (int round = 0; round < 64 && !deferred_.empty(); ++round) {
        std::vector<unique_function<void()>> tasks;
        tasks.swap(deferred_);
        for (auto& t : tasks) {
            guarded([&] { t(); });
        }
    }
}

void loop::run_once(int max_wait_ms) {
    if (running_loop == this) {
        throw std::logic_error("hs::net::loop::run_once called from inside its own iteration");
    }
    running_scope scope(this, mailbox_.get());
    if (!deferred_.empty()) {
        run_deferred(); // deferred from outside an iteration (a start hook)
    }
    int timeout = wheel_.next_timeout_ms(now_ms_);
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) {
        timeout = max_wait_ms;
    }
    const int n = ::epoll_wait(epfd_, events_, static_cast<int>(std::size(events_)), timeout);
    now_ms_ = monotonic_ms();
    ++iteration_;
    pending_ = {events_, n > 0 ? static_cast<std::size_t>(n) : 0};
    for (next_event_ = 0; next_event_ < pending_.size();) {
        const epoll_event ev = pending_[next_event_++];
        if (ev.data.ptr != nullptr) {
            guarded([&] { static_cast<io_handler*>(ev.data.ptr)->on_io(ev.events); });
            if (!deferred_.empty()) {
                run_deferred();
            }
        }
    }
    pending_ = {};
    next_event_ = 0;
    // An exception must not leave advance() with entries linked to its local list.
    wheel_.advance(now_ms_, [this](timer_wheel::entry& e) {
        timer& t = static_cast<timer&>(e);
        if (t.on_fire_) {
            guarded([&] { t.on_fire_(); });
        }
    });
    if (!deferred_.empty()) {
        run_deferred();
    }
}

void loop::run() {
    while (!stop_.load(std::memory_order_acquire)) {
        run_once();
    }
    stop_.store(false, std::memory_order_relaxed);
}

void loop::stop() noexcept {
    stop_.store(true, std::memory_order_release);
    const std::uint64_t one = 1; // wakes epoll_wait; run_posted finds no task, which is fine
    [[maybe_unused]] const auto n = ::write(mailbox_->wake_fd_, &one, sizeof one);
}

} // namespace hs::net
