#include "net/event_loop.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <system_error>

namespace hs::net {

poller::poller() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epfd_.valid()) {
        throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
}

void poller::add(int sock, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, sock, &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
    }
}

void poller::remove(int sock) noexcept {
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, sock, nullptr);
}

std::span<epoll_event> poller::wait(int timeout_ms) noexcept {
    const int n =
        ::epoll_wait(epfd_.get(), events_, static_cast<int>(std::size(events_)), timeout_ms);
    return {events_, n > 0 ? static_cast<std::size_t>(n) : 0};
}

wakeup::wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!fd_.valid()) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

void wakeup::notify() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_.get(), &one, sizeof one);
}

void wakeup::drain() noexcept {
    std::uint64_t v = 0;
    [[maybe_unused]] const auto n = ::read(fd_.get(), &v, sizeof v);
}

} // namespace hs::net
