#pragma once
/// \file Per-server limits, handed down from the command line (API.md "Protocol behaviour").
#include <chrono>
#include <cstddef>

namespace hs {

/// Every bound the engine enforces. One instance per server, passed by reference to each layer;
/// no macro, global or environment variable changes these.
struct limits {
    std::size_t max_header_bytes = 16 * 1024; ///< request line + header section (431 past it)
    std::size_t max_header_fields = 100;      ///< header fields in one request (431 past it)
    std::size_t max_target_bytes = 8 * 1024;  ///< request-target (414 past it)
    std::size_t max_body_bytes = 1024 * 1024; ///< decoded body (413 past it)
    std::chrono::milliseconds header_timeout{
        10'000}; ///< first byte to end of head, also body gaps (408)
    std::chrono::milliseconds idle_timeout{
        60'000};                          ///< keep-alive idle and write stalls (silent close)
    std::size_t max_connections = 10'000; ///< open connections over all workers
    std::chrono::milliseconds handler_timeout{
        30'000}; ///< a handler's answer must come within it (504 and close past it)
};

/// Checks every limit for values the engine cannot work with (zero sizes, timeouts of zero or
/// less, sizes whose sums would wrap). Throws std::invalid_argument naming the limit.
void validate(const limits& l);

} // namespace hs
