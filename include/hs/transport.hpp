#pragma once
/// \file The byte stream under a connection: plain TCP today, TLS next, each behind one seam.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace hs::net {

/// What one read or write did.
struct io_result {
    enum class status : std::uint8_t {
        ok,          ///< \p bytes were moved
        would_block, ///< nothing now; the loop reports readiness (edge-triggered) later
        eof,         ///< read: the peer closed its side cleanly
        error        ///< the stream is broken (reset, EPIPE, a TLS alert); close it
    };
    status what = status::ok;
    std::size_t bytes = 0;
    /// After a read: true when nothing more can be read now without waiting for readiness (a
    /// short TCP read). A TLS transport holding decrypted bytes says false.
    bool drained = false;
    int error = 0; ///< errno (or a transport's own code) when what == error
};

/// A non-blocking, full-duplex byte stream over one descriptor. Used from one loop thread.
/// Every call returns at once; none raises.
class transport {
public:
    virtual ~transport() = default;

    /// The descriptor to register with the loop (readiness of the stream under the transport).
    virtual int fd() const noexcept = 0;
    /// Reads into \p into (non-empty).
    virtual io_result read(std::span<char> into) noexcept = 0;
    /// Writes from \p from (non-empty); a short write leaves the rest to the caller.
    virtual io_result write(std::span<const char> from) noexcept = 0;
    /// Ends the write side once what was written is sent (TCP FIN; TLS close_notify first).
    virtual void shutdown_write() noexcept = 0;
    /// Disables send coalescing (TCP_NODELAY) for a connection that stays open.
    virtual void set_nodelay() noexcept = 0;
    /// Releases the descriptor (closing it removes it from every epoll set).
    virtual void close() noexcept = 0;
    /// Closes abortively, so the peer sees an error rather than a clean end of stream (TCP RST):
    /// for a close-delimited body that could not be completed.
    virtual void reset() noexcept = 0;
};

/// Wraps an accepted socket in a transport. The server's default builds plain TCP; TLS (and a
/// test's fault-injecting transport) is another factory. Called on the worker's thread; may
/// throw (the connection is then refused and the socket closed).
class transport_factory {
public:
    virtual ~transport_factory() = default;
    /// Takes ownership of \p sock.
    virtual std::unique_ptr<transport> wrap(int sock) = 0;
};

/// Plain TCP over a non-blocking socket; takes ownership of \p sock.
std::unique_ptr<transport> make_tcp_transport(int sock);

} // namespace hs::net
