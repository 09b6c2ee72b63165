// Plain TCP behind the transport seam, over a connected loopback pair.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "hs/transport.hpp"

namespace hs::net {
namespace {

/// A connected non-blocking TCP pair on loopback: server side wrapped, client side raw.
struct tcp_pair {
    int client = -1;
    std::unique_ptr<transport> server;
    tcp_pair() {
        const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        EXPECT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(l, 1), 0);
        EXPECT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
        client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        const int s = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        EXPECT_GE(s, 0);
        ::close(l);
        server = make_tcp_transport(s);
    }
    ~tcp_pair() { ::close(client); }
    tcp_pair(const tcp_pair&) = delete;
    tcp_pair& operator=(const tcp_pair&) = delete;
};

/// Reads until something arrives (the client's bytes cross loopback at once, but not
/// synchronously).
io_result read_some(transport& t, std::span<char> into) {
    for (int i = 0; i < 1000; ++i) {
        const io_result r = t.read(into);
        if (r.what != io_result::status::would_block) {
            return r;
        }
        ::usleep(1000);
    }
    return {io_result::status::would_block, 0, true, 0};
}

TEST(tcp_transport, nothing_to_read_would_block) {
    tcp_pair p;
    char buf[16];
    const io_result r = p.server->read(buf);
    EXPECT_EQ(r.what, io_result::status::would_block);
}

TEST(tcp_transport, a_short_read_says_drained_a_full_one_does_not) {
    tcp_pair p;
    ASSERT_EQ(::send(p.client, "hello world", 11, 0), 11);
    char small[5];
    io_result r = read_some(*p.server, small);
    ASSERT_EQ(r.what, io_result::status::ok);
    EXPECT_EQ(r.bytes, 5u);
    EXPECT_FALSE(r.drained); // filled the space: more may wait
    char big[64];
    r = p.server->read(big);
    ASSERT_EQ(r.what, io_result::status::ok);
    EXPECT_EQ(std::string(big, r.bytes), " world");
    EXPECT_TRUE(r.drained);
}

TEST(tcp_transport, writes_reach_the_peer_and_shutdown_sends_eof) {
    tcp_pair p;
    const std::string msg = "response bytes";
    const io_result w = p.server->write(msg);
    ASSERT_EQ(w.what, io_result::status::ok);
    EXPECT_EQ(w.bytes, msg.size());
    p.server->shutdown_write();
    std::string got;
    char buf[64];
    ssize_t n = 0;
    while ((n = ::recv(p.client, buf, sizeof buf, 0)) > 0) {
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(n, 0); // EOF after the bytes
    EXPECT_EQ(got, msg);
}

TEST(tcp_transport, the_peer_closing_is_eof) {
    tcp_pair p;
    ::shutdown(p.client, SHUT_WR);
    char buf[8];
    EXPECT_EQ(read_some(*p.server, buf).what, io_result::status::eof);
}

TEST(tcp_transport, writing_to_a_reset_peer_is_an_error_without_sigpipe) {
    tcp_pair p;
    linger l{1, 0};
    ::setsockopt(p.client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(p.client); // RST
    p.client = ::socket(AF_INET, SOCK_STREAM, 0);
    io_result r{};
    const std::string chunk(65536, 'x');
    for (int i = 0; i < 1000; ++i) {
        r = p.server->write(chunk);
        if (r.what == io_result::status::error) {
            break;
        }
        ::usleep(1000);
    }
    EXPECT_EQ(r.what, io_result::status::error);
    EXPECT_TRUE(r.error == EPIPE || r.error == ECONNRESET) << r.error;
}

TEST(tcp_transport, a_full_socket_would_block_on_write) {
    tcp_pair p;
    const std::string chunk(1 << 20, 'x');
    io_result r{};
    for (int i = 0; i < 64; ++i) {
        r = p.server->write(chunk);
        if (r.what == io_result::status::would_block) {
            break;
        }
    }
    EXPECT_EQ(r.what, io_result::status::would_block); // the client never reads
}

TEST(tcp_transport, close_releases_the_descriptor_once) {
    tcp_pair p;
    const int fd = p.server->fd();
    EXPECT_GE(fd, 0);
    p.server->close();
    EXPECT_LT(p.server->fd(), 0);
    p.server->close(); // idempotent
}

} // namespace
} // namespace hs::net
