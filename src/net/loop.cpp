#include "hs/loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
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

// ---- timer ----

void timer::cancel() noexcept {
    if (owner_ != nullptr) {
        owner_->wheel_.cancel(*this);
    }
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
    {
        std::lock_guard lock(mu_);
        if (!closed_) {
            tasks_.push_back(std::move(task));
            const std::uint64_t one = 1;
            [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
            return true;
        }
    }
    return false; // the task is destroyed here, outside the lock, on the caller's thread
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

void loop::schedule(timer& t, std::chrono::milliseconds after) noexcept {
    schedule_at(t, now_ms_ + after.count());
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

void loop::run_posted() {
    std::vector<unique_function<void()>> tasks;
    {
        std::lock_guard lock(mailbox_->mu_);
        tasks.swap(mailbox_->tasks_);
    }
    for (auto& t : tasks) {
        t();
    }
}

void loop::run_once(int max_wait_ms) {
    running_scope scope(this, mailbox_.get());
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
            static_cast<io_handler*>(ev.data.ptr)->on_io(ev.events);
        }
    }
    pending_ = {};
    next_event_ = 0;
    wheel_.advance(now_ms_, [](timer_wheel::entry& e) {
        timer& t = static_cast<timer&>(e);
        if (t.on_fire_) {
            t.on_fire_();
        }
    });
}

void loop::run() {
    while (!stop_.load(std::memory_order_acquire)) {
        run_once();
    }
    stop_.store(false, std::memory_order_relaxed);
}

void loop::stop() noexcept {
    stop_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(mailbox_->wake_fd_, &one, sizeof one);
}

} // namespace hs::net
