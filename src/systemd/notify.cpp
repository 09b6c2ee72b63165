#include "systemd/notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "net/fd.hpp"

namespace hs::systemd {
namespace {

bool parse_u64(const char* text, std::uint64_t& out) {
    if (text == nullptr || *text == '\0') {
        return false;
    }
    const char* end = text + std::strlen(text);
    const auto [p, ec] = std::from_chars(text, end, out);
    return ec == std::errc() && p == end;
}

bool for_this_process(const char* pid_variable) {
    std::uint64_t pid = 0;
    return parse_u64(std::getenv(pid_variable), pid) &&
           pid == static_cast<std::uint64_t>(::getpid());
}

} // namespace

std::optional<notifier> notifier::from_environment() {
    const char* a = std::getenv("NOTIFY_SOCKET");
    if (a == nullptr || *a == '\0' || (a[0] != '/' && a[0] != '@')) {
        return std::nullopt;
    }
    return notifier(a);
}

bool notifier::send(std::string_view state) const noexcept {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (address_.size() >= sizeof addr.sun_path) {
        return false;
    }
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    if (addr.sun_path[0] == '@') {
        addr.sun_path[0] = '\0'; // the abstract namespace
    }
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    const net::fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
        return false;
    }
    ssize_t n = 0;
    do {
        n = ::sendto(s.get(), state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (!parse_u64(std::getenv("WATCHDOG_USEC"), usec) || usec == 0) {
        return std::nullopt;
    }
    if (std::getenv("WATCHDOG_PID") != nullptr && !for_this_process("WATCHDOG_PID")) {
        return std::nullopt;
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(usec / 2));
}

int activated_listener() {
    std::uint64_t count = 0;
    const bool ours =
        for_this_process("LISTEN_PID") && parse_u64(std::getenv("LISTEN_FDS"), count) && count >= 1;
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return ours ? 3 : -1; // SD_LISTEN_FDS_START
}

} // namespace hs::systemd
