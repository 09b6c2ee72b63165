#pragma once
/// \file systemd's side of the process: readiness notification (the sd_notify protocol: one
/// datagram per message to $NOTIFY_SOCKET), the watchdog interval ($WATCHDOG_USEC), and socket
/// activation ($LISTEN_FDS / $LISTEN_PID). Our own few lines instead of libsystemd: the
/// protocol is a documented datagram, and the server then needs no extra library.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hs::systemd {

/// The notification socket of the service manager, if there is one.
class notifier {
public:
    /// From $NOTIFY_SOCKET (a path, or `@name` in the abstract namespace); nullopt without it.
    static std::optional<notifier> from_environment();
    explicit notifier(std::string address) : address_(std::move(address)) {}

    /// Sends \p state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."): newline-separated
    /// assignments in one datagram. False when it could not be sent.
    bool send(std::string_view state) const noexcept;

private:
    std::string address_;
};

/// Half of $WATCHDOG_USEC when the watchdog is on for this process ($WATCHDOG_PID unset or
/// ours): how often to send WATCHDOG=1. nullopt when it is off.
std::optional<std::chrono::microseconds> watchdog_interval();

/// The first socket passed by socket activation (fd 3) when $LISTEN_PID is this process and
/// $LISTEN_FDS >= 1; -1 otherwise. Unsets both variables (and LISTEN_FDNAMES) so that a child
/// does not take them for its own.
int activated_listener();

} // namespace hs::systemd
