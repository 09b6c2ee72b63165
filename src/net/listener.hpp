#pragma once
/// \file Listening sockets.
#include <cstdint>
#include <string>

#include "net/fd.hpp"

namespace hs::net {

/// A non-blocking, close-on-exec TCP listener on \p host:\p port (IPv4 or IPv6 literal, or a
/// name getaddrinfo resolves). With \p reuse_port, several listeners may share the port and the
/// kernel spreads connections over them. Throws std::system_error.
fd open_listener(const std::string& host, std::uint16_t port, bool reuse_port, int backlog = 1024);

/// The port a bound socket got (for port 0).
std::uint16_t local_port(int sock);

/// Disables Nagle's algorithm: a response never waits for the ACK of the previous one.
void set_nodelay(int sock) noexcept;

/// Accepts one connection, non-blocking and close-on-exec. Returns -1
/// with errno set when none is ready (EAGAIN) or on error. \p peer receives the address text.
int accept_connection(int listener, std::string& peer) noexcept;

} // namespace hs::net
