#include "net/listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace hs::net {

fd open_listener(const std::string& host, std::uint16_t port, bool reuse_port, int backlog) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        throw std::system_error(EINVAL, std::generic_category(),
                                "cannot resolve host '" + host + "': " + ::gai_strerror(rc));
    }
    int err = 0;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!s.valid()) {
            err = errno;
            continue;
        }
        const int one = 1;
        ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuse_port) {
            ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        }
        if (::bind(s.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(s.get(), backlog) == 0) {
            ::freeaddrinfo(res);
            return s;
        }
        err = errno;
    }
    ::freeaddrinfo(res);
    throw std::system_error(err, std::generic_category(),
                            "cannot listen on " + host + ":" + service);
}

std::uint16_t local_port(int sock) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(sock, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        throw std::system_error(errno, std::generic_category(), "getsockname");
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

int accept_connection(int listener, std::string& peer) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int c =
        ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        return -1;
    }
    char text[INET6_ADDRSTRLEN] = "-";
    if (ss.ss_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
    } else if (ss.ss_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, text, sizeof text);
    }
    peer.assign(text);
    return c;
}

void set_nodelay(int sock) noexcept {
    const int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

} // namespace hs::net
