#include "hs/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "net/fd.hpp"
#include "net/listener.hpp"
#include "server/worker.hpp"

namespace hs {

void validate(const limits& l) {
    constexpr std::size_t max_size = std::size_t{1} << 40; // far below any wrap in sums
    auto size = [&](std::size_t v, std::size_t min, const char* name) {
        if (v < min || v > max_size) {
            throw std::invalid_argument(std::string("limits.") + name + " must be between " +
                                        std::to_string(min) + " and 2^40");
        }
    };
    size(l.max_header_bytes, 64, "max_header_bytes");
    size(l.max_header_fields, 1, "max_header_fields");
    size(l.max_target_bytes, 1, "max_target_bytes");
    size(l.max_body_bytes, 0, "max_body_bytes");
    size(l.max_connections, 1, "max_connections");
    auto time = [&](std::chrono::milliseconds v, const char* name) {
        // Positive, and far enough from the clock's range that now + v never overflows.
        if (v.count() <= 0 || v > std::chrono::hours(24 * 365)) {
            throw std::invalid_argument(std::string("limits.") + name +
                                        " must be positive and at most a year");
        }
    };
    time(l.header_timeout, "header_timeout");
    time(l.idle_timeout, "idle_timeout");
    time(l.handler_timeout, "handler_timeout");
}

struct server::impl {
    server_options options;
    router routes;
    std::atomic<std::size_t> open_connections{0};
    server_detail::shared_config config;
    std::vector<net::fd> listeners;
    std::vector<std::unique_ptr<server_detail::worker>> workers;
    std::vector<std::thread> threads;
    std::uint16_t port = 0;
    std::mutex stop_mu;
    bool stopped = false;

    void shutdown_workers(std::int64_t deadline) {
        // First the flag every response reads (so one that a client can send after it sees
        // the listener refuse says `Connection: close`), then stop accepting at once on every
        // listener (accept then fails with EINVAL, the backlog is reset), without closing a
        // descriptor another thread may still use.
        for (auto& w : workers) {
            w->request_shutdown(deadline);
        }
        for (net::fd& l : listeners) {
            ::shutdown(l.get(), SHUT_RDWR);
        }
        for (auto& t : threads) {
            t.join();
        }
        threads.clear();
        listeners.clear();
    }
};

server::server(server_options options, router routes) : impl_(std::make_unique<impl>()) {
    impl_->options = std::move(options);
    impl_->routes = std::move(routes);
}

server::~server() {
    stop();
}

std::uint16_t server::port() const noexcept {
    return impl_->port;
}

void server::start() {
    impl& s = *impl_;
    validate(s.options.limits);
    if (s.options.shutdown_timeout.count() < 0) {
        throw std::invalid_argument("shutdown_timeout must not be negative");
    }
    unsigned n = s.options.threads;
    if (n == 0) {
        n = std::max(1u, std::thread::hardware_concurrency());
    }
    s.config.routes = &s.routes;
    s.config.lim = &s.options.limits;
    s.config.server_name = s.options.server_name;
    s.config.log = s.options.access_log.get();
    s.config.log_format = s.options.log_format;
    s.config.open_connections = &s.open_connections;
    s.config.transports = s.options.transports.get();
    s.config.on_start = &s.options.on_worker_start;
    s.config.on_stop = &s.options.on_worker_stop;

    // Without reuse_port: one listener that every worker accepts from (EPOLLEXCLUSIVE), so the
    // port is ours alone. With it: one SO_REUSEPORT listener per worker, no shared accept queue.
    // See docs/DECISIONS.md.
    const bool per_worker = s.options.reuse_port && s.options.listen_fd < 0;
    if (s.options.listen_fd >= 0) {
        // Handed over (socket activation): ours from now on, non-blocking like our own.
        net::fd inherited(s.options.listen_fd);
        s.options.listen_fd = -1;
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(inherited.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
            listening == 0) {
            throw std::invalid_argument("the inherited descriptor is not a listening socket");
        }
        const int flags = ::fcntl(inherited.get(), F_GETFL);
        ::fcntl(inherited.get(), F_SETFL, flags | O_NONBLOCK);
        ::fcntl(inherited.get(), F_SETFD, FD_CLOEXEC);
        s.listeners.push_back(std::move(inherited));
    } else {
        s.listeners.push_back(net::open_listener(s.options.host, s.options.port, per_worker));
    }
    s.port = net::local_port(s.listeners.front().get());
    for (unsigned i = 1; per_worker && i < n; ++i) {
        s.listeners.push_back(net::open_listener(s.options.host, s.port, true));
    }
    for (unsigned i = 0; i < n; ++i) {
        const int l = s.listeners[per_worker ? i : 0].get();
        s.workers.push_back(std::make_unique<server_detail::worker>(s.config, l, i));
    }
    // Start the threads; each reports once its start hook ran.
    std::mutex mu;
    std::condition_variable cv;
    unsigned reported = 0;
    std::exception_ptr failure;
    auto started = [&](std::exception_ptr e) {
        std::lock_guard lock(mu);
        if (e && !failure) {
            failure = e;
        }
        ++reported;
        cv.notify_all();
    };
    std::size_t launched = 0;
    try {
        for (auto& w : s.workers) {
            s.threads.emplace_back([wp = w.get(), &started] { wp->run(started); });
            ++launched;
        }
    } catch (...) {
        std::lock_guard lock(mu); // no thread for a worker: stop those that run
        if (!failure) {
            failure = std::current_exception();
        }
    }
    {
        // Every launched thread reports before `started` (on this stack) goes away.
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return reported == launched; });
    }
    if (failure) {
        s.shutdown_workers(net::monotonic_ms());
        s.stopped = true;
        std::rethrow_exception(failure);
    }
}

bool server::responsive(std::chrono::milliseconds timeout) {
    struct pong {
        std::mutex mu;
        std::condition_variable cv;
        std::size_t answered = 0;
    };
    auto p = std::make_shared<pong>();
    std::size_t asked = 0;
    for (auto& w : impl_->workers) {
        asked += w->loop().post([p] {
            std::lock_guard lock(p->mu);
            ++p->answered;
            p->cv.notify_all();
        })
                     ? 1
                     : 0;
    }
    std::unique_lock lock(p->mu);
    return p->cv.wait_for(lock, timeout, [&] { return p->answered == asked; }) &&
           asked == impl_->workers.size();
}

void server::begin_drain() noexcept {
    for (auto& w : impl_->workers) {
        w->wind_down();
    }
}

void server::stop() {
    impl& s = *impl_;
    std::lock_guard lock(s.stop_mu);
    if (s.stopped) {
        return;
    }
    s.stopped = true;
    const auto deadline = std::chrono::steady_clock::now() + s.options.shutdown_timeout;
    s.shutdown_workers(net::monotonic_ms() + s.options.shutdown_timeout.count());
    // The workers themselves live until ~server: an asynchronous completion that arrives after
    // stop() finds their mailboxes closed only then, and is dropped safely either way.
    if (s.options.access_log) {
        // A log output that does not drain (a full pipe nobody reads) must not hold the exit
        // past the shutdown deadline; a healthy one gets at least a moment.
        const auto floor = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        s.options.access_log->flush(std::max(deadline, floor));
    }
}

} // namespace hs
