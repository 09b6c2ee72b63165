#include "server/acceptor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/listener.hpp"
#include "server/worker.hpp"

namespace hs::server_detail {

/// A socket refused past the cap: 503 sent, write side shut, input dropped until EOF or linger.
class acceptor::refusal final : public net::io_handler {
public:
    refusal(acceptor& owner, int sock) : owner_(owner), sock_(sock), timer_([this] { done(); }) {}
    ~refusal() {
        owner_.w_.loop().forget(*this); // events gathered in this iteration must not reach us
        if (sock_ >= 0) {
            ::close(sock_);
        }
    }
    refusal(const refusal&) = delete;
    refusal& operator=(const refusal&) = delete;

    int fd() const noexcept { return sock_; }
    void arm() noexcept { owner_.w_.loop().schedule(timer_, std::chrono::milliseconds(linger_ms)); }

    void on_io(std::uint32_t events) override {
        if ((events & EPOLLERR) != 0) {
            done();
            return;
        }
        char sink[4096];
        for (;;) {
            const ssize_t n = ::recv(sock_, sink, sizeof sink, 0);
            if (n > 0) {
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return;
            }
            done(); // EOF: the client read the 503 and closed; or an error
            return;
        }
    }

    void done() noexcept {
        owner_.w_.loop().forget(*this);
        owner_.drop(this);
    }

private:
    acceptor& owner_;
    int sock_;
    net::timer timer_;
};

acceptor::acceptor(worker& w, int listen_fd, std::string refusal_response)
    : w_(w), listen_fd_(listen_fd), refusal_bytes_(std::move(refusal_response)), resume_([this] {
          try {
              start();
          } catch (...) {
              w_.loop().schedule(resume_, std::chrono::milliseconds(100)); // try again later
          }
      }) {}

acceptor::~acceptor() = default;

void acceptor::free_dead_now() noexcept {
    dead_.clear();
}

void acceptor::start() {
    if (stopped_ || registered_ || listen_fd_ < 0) {
        return;
    }
    // EPOLLEXCLUSIVE: when the workers share one listener, a connection wakes one of them, not
    // all (the thundering herd). Harmless on a worker's own SO_REUSEPORT listener.
    w_.loop().add(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, *this);
    registered_ = true;
}

void acceptor::stop() noexcept {
    stopped_ = true;
    resume_.cancel();
    if (registered_) {
        w_.loop().remove(listen_fd_, *this);
        registered_ = false;
    }
}

void acceptor::on_io(std::uint32_t) {
    if (stopped_) {
        return;
    }
    const limits& lim = *w_.config().lim;
    for (int i = 0; i < accepts_per_wakeup; ++i) {
        std::string peer;
        const int c = net::accept_connection(listen_fd_, peer);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: stop accepting for a moment rather than spin on the
                // listener, which stays readable.
                w_.loop().remove(listen_fd_, *this);
                registered_ = false;
                w_.loop().schedule(resume_, std::chrono::milliseconds(100));
            } else if (errno == EINVAL) {
                stop(); // the server shut the listener down: it is draining
            }
            return; // EAGAIN, or a connection that died in the backlog
        }
        if (w_.config().open_connections->fetch_add(1, std::memory_order_relaxed) >=
            lim.max_connections) {
            w_.config().open_connections->fetch_sub(1, std::memory_order_relaxed);
            refuse(c);
            continue;
        }
        w_.adopt(c, std::move(peer));
    }
}

void acceptor::refuse(int sock) noexcept {
    ::send(sock, refusal_bytes_.data(), refusal_bytes_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (refusals_.size() >= max_refusals) {
        ::close(sock); // too many lingering already: this client may see a reset
        return;
    }
    std::unique_ptr<refusal> r;
    try {
        r = std::make_unique<refusal>(*this, sock);
    } catch (...) {
        ::close(sock);
        return;
    }
    ::shutdown(sock, SHUT_WR);
    try {
        w_.loop().add(sock, EPOLLIN | EPOLLRDHUP | EPOLLET, *r);
        refusals_.push_back(std::move(r));
    } catch (...) {
        return; // ~refusal closes it
    }
    refusals_.back()->arm();
}

void acceptor::drop(refusal* r) noexcept {
    for (std::size_t i = 0; i < refusals_.size(); ++i) {
        if (refusals_[i].get() == r) {
            std::unique_ptr<refusal> gone = std::move(refusals_[i]);
            refusals_[i] = std::move(refusals_.back());
            refusals_.pop_back();
            // r is inside one of its own callbacks: destroy it after this loop turn.
            try {
                dead_.push_back(std::move(gone));
            } catch (...) {
                // Out of memory: destroyed here; callers touch nothing after drop().
            }
            return;
        }
    }
}

} // namespace hs::server_detail
