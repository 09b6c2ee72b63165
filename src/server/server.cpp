#include "hs/server.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "net/listener.hpp"
#include "server/worker.hpp"

namespace hs {

struct server::impl {
    server_options options;
    router routes;
    std::atomic<std::size_t> open_connections{0};
    server_detail::shared_config config;
    std::vector<std::unique_ptr<server_detail::worker>> workers;
    std::vector<std::thread> threads;
    std::uint16_t port = 0;
    std::mutex stop_mu;
    bool stopped = false;
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

    // One listener per worker on the same port (SO_REUSEPORT): the kernel spreads connections,
    // and no accept lock or hand-off is shared between threads. See docs/DECISIONS.md.
    std::vector<net::fd> listeners;
    listeners.push_back(net::open_listener(s.options.host, s.options.port, true));
    s.port = net::local_port(listeners.front().get());
    for (unsigned i = 1; i < n; ++i) {
        listeners.push_back(net::open_listener(s.options.host, s.port, true));
    }
    for (auto& l : listeners) {
        s.workers.push_back(std::make_unique<server_detail::worker>(s.config, std::move(l)));
    }
    for (auto& w : s.workers) {
        s.threads.emplace_back([wp = w.get()] { wp->run(); });
    }
}

void server::stop() {
    impl& s = *impl_;
    std::lock_guard lock(s.stop_mu);
    if (s.stopped) {
        return;
    }
    s.stopped = true;
    const std::int64_t deadline =
        server_detail::monotonic_ms() + s.options.shutdown_timeout.count();
    for (auto& w : s.workers) {
        w->request_shutdown(deadline);
    }
    for (auto& t : s.threads) {
        t.join();
    }
    s.threads.clear();
    // The workers themselves live until ~server: an asynchronous completion that arrives after
    // stop() is queued to a loop that no longer runs, and dropped with it, instead of reaching
    // freed memory.
    if (s.options.access_log) {
        s.options.access_log->flush();
    }
}

} // namespace hs
