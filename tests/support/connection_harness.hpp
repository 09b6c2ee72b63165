#pragma once
// Drives the real server connection (server_detail::connection) over a socketpair, on the test's
// own thread: a worker is built without a listener and turned by hand. Used by the connection
// unit tests and the connection fuzzer.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <string_view>

#include "hs/router.hpp"
#include "server/connection.hpp"
#include "server/worker.hpp"

namespace hs::test {

class connection_harness {
public:
    explicit connection_harness(router r, limits lim = {}, access_log_sink* log = nullptr)
        : routes_(std::move(r)), lim_(lim) {
        cfg_.routes = &routes_;
        cfg_.lim = &lim_;
        cfg_.server_name = "test";
        cfg_.log = log;
        cfg_.open_connections = &open_;
        worker_ = std::make_unique<server_detail::worker>(cfg_, -1, 0);
    }
    ~connection_harness() {
        worker_.reset();
        if (client_ >= 0) {
            ::close(client_);
        }
    }
    connection_harness(const connection_harness&) = delete;
    connection_harness& operator=(const connection_harness&) = delete;

    /// Opens a connection; \p server_sndbuf, when > 0, shrinks the server side's send buffer
    /// (to make output stall). Returns false when the socketpair cannot be made.
    bool connect(int server_sndbuf = 0) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            return false;
        }
        ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
        ::fcntl(sv[1], F_SETFL, ::fcntl(sv[1], F_GETFL) | O_NONBLOCK);
        if (server_sndbuf > 0) {
            ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &server_sndbuf, sizeof server_sndbuf);
            ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &server_sndbuf, sizeof server_sndbuf);
        }
        client_ = sv[1];
        open_.fetch_add(1);
        run_on_loop([&] { worker_->adopt(sv[0], "127.0.0.1"); });
        return true;
    }

    /// Sends bytes from the client side (as much as fits now); returns how many went.
    std::size_t send(std::string_view bytes) {
        const ssize_t n = ::send(client_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    void shutdown_write() { ::shutdown(client_, SHUT_WR); }

    /// Turns the worker's loop \p n times, each waiting at most \p wait_ms for events.
    void turn(int n = 1, int wait_ms = 0) {
        for (int i = 0; i < n; ++i) {
            worker_->turn(wait_ms);
        }
    }

    /// Reads what the server sent so far into received().
    void read_available() {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(client_, buf, sizeof buf, 0);
            if (n > 0) {
                received_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) {
                eof_ = true;
            }
            return;
        }
    }

    /// Turns and reads until \p done or \p max_turns turns of up to 10 ms each.
    template <class F> bool turn_until(F done, int max_turns = 1000) {
        for (int i = 0; i < max_turns; ++i) {
            read_available();
            if (done()) {
                return true;
            }
            worker_->turn(10);
        }
        read_available();
        return done();
    }

    const std::string& received() const noexcept { return received_; }
    std::string take_received() { return std::exchange(received_, {}); }
    bool eof() const noexcept { return eof_; }
    /// The one connection's state, or closed when it is gone.
    server_detail::connection::state state() const {
        const auto& conns = worker_->connections();
        return conns.empty() ? server_detail::connection::state::closed : conns.front()->current();
    }
    std::size_t open_connections() const noexcept { return open_.load(); }
    server_detail::worker& worker() noexcept { return *worker_; }
    int client_fd() const noexcept { return client_; }

private:
    /// Runs \p f as a task on the worker's loop (so it sees itself on the loop thread).
    template <class F> void run_on_loop(F f) {
        bool done = false;
        worker_->loop().post([&] {
            f();
            done = true;
        });
        while (!done) {
            worker_->turn(0);
        }
    }

    router routes_;
    limits lim_;
    std::atomic<std::size_t> open_{0};
    server_detail::shared_config cfg_;
    std::unique_ptr<server_detail::worker> worker_;
    int client_ = -1;
    std::string received_;
    bool eof_ = false;
};

/// Counts the HTTP/1.1 responses at the start of \p bytes, framed by Content-Length (or
/// bodiless by status); -1 when the bytes are not a sequence of well-formed responses (a
/// partial last one is fine). A response to HEAD has a Content-Length and no body: when
/// \p allow_head and the bytes after a head are another status line (or nothing), the body is
/// taken to be absent, so bodies must never start with "HTTP/".
inline int count_responses(std::string_view bytes, bool allow_head = false) {
    constexpr std::string_view status_line = "HTTP/1.1 ";
    int n = 0;
    while (!bytes.empty()) {
        if (bytes.size() < 12) {
            return status_line.starts_with(bytes.substr(0, std::min(bytes.size(), std::size_t{9})))
                       ? n
                       : -1;
        }
        if (!bytes.starts_with(status_line)) {
            return -1;
        }
        const auto end = bytes.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            return n; // partial head
        }
        const std::string_view head = bytes.substr(0, end);
        const int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
        if (status < 100 || status > 599 || (status < 200 && status != 100)) {
            return -1;
        }
        bytes.remove_prefix(end + 4);
        if (status == 100) {
            continue; // interim: not a final response
        }
        std::size_t length = 0;
        const auto cl = head.find("\r\nContent-Length: ");
        if (cl != std::string_view::npos && status != 204 && status != 304) {
            const auto value_end = head.find("\r\n", cl + 2);
            length = std::stoul(std::string(head.substr(cl + 18, value_end - cl - 18)));
        }
        if (allow_head && length > 0 &&
            (bytes.empty() ||
             bytes.starts_with(status_line.substr(0, std::min(bytes.size(), std::size_t{9}))))) {
            length = 0; // HEAD
        }
        if (bytes.size() < length) {
            return n; // partial body
        }
        bytes.remove_prefix(length);
        ++n;
    }
    return n;
}

} // namespace hs::test
