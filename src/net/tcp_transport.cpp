#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "hs/transport.hpp"

namespace hs::net {
namespace {

/// recv/send on the socket. A read shorter than the space offered drained the socket.
class tcp_transport final : public transport {
public:
    explicit tcp_transport(int sock) noexcept : sock_(sock) {}
    ~tcp_transport() override { close(); }
    tcp_transport(const tcp_transport&) = delete;
    tcp_transport& operator=(const tcp_transport&) = delete;

    int fd() const noexcept override { return sock_; }

    io_result read(std::span<char> into) noexcept override {
        for (;;) {
            const ssize_t n = ::recv(sock_, into.data(), into.size(), 0);
            if (n > 0) {
                const auto got = static_cast<std::size_t>(n);
                return {io_result::status::ok, got, got < into.size(), 0};
            }
            if (n == 0) {
                return {io_result::status::eof, 0, true, 0};
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return {io_result::status::would_block, 0, true, 0};
            }
            if (errno != EINTR) {
                return {io_result::status::error, 0, true, errno};
            }
        }
    }

    io_result write(std::span<const char> from) noexcept override {
        for (;;) {
            const ssize_t n = ::send(sock_, from.data(), from.size(), MSG_NOSIGNAL);
            if (n >= 0) {
                return {io_result::status::ok, static_cast<std::size_t>(n), false, 0};
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return {io_result::status::would_block, 0, false, 0};
            }
            if (errno != EINTR) {
                return {io_result::status::error, 0, false, errno};
            }
        }
    }

    void shutdown_write() noexcept override { ::shutdown(sock_, SHUT_WR); }

    void set_nodelay() noexcept override {
        const int one = 1;
        ::setsockopt(sock_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    void reset() noexcept override {
        if (sock_ >= 0) {
            const linger abortive{1, 0};
            ::setsockopt(sock_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
            close();
        }
    }

    void close() noexcept override {
        if (sock_ >= 0) {
            ::close(sock_);
            sock_ = -1;
        }
    }

private:
    int sock_;
};

} // namespace

std::unique_ptr<transport> make_tcp_transport(int sock) {
    try {
        return std::make_unique<tcp_transport>(sock);
    } catch (...) {
        ::close(sock);
        throw;
    }
}

} // namespace hs::net
