#include "server/worker.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <ctime>

#include "http/serializer.hpp"
#include "net/listener.hpp"
#include "server/connection.hpp"

namespace hs::server_detail {
namespace {

constexpr std::uint64_t listener_tag = ~std::uint64_t{0};
constexpr std::uint64_t wakeup_tag = listener_tag - 1;
constexpr std::size_t max_pooled = 64;
constexpr int accepts_per_wakeup = 64;
constexpr std::size_t log_batch_bytes = 32 * 1024;
constexpr std::int64_t log_batch_ms = 100;
thread_local worker* current_worker = nullptr;

} // namespace

std::int64_t monotonic_ms() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

worker::worker(const shared_config& cfg, net::fd listener)
    : cfg_(cfg), listener_(std::move(listener)), now_ms_(monotonic_ms()), timers_(now_ms_) {
    poller_.add(listener_.get(), EPOLLIN, listener_tag);
    poller_.add(wakeup_.get(), EPOLLIN, wakeup_tag);
    // Sent to connections past --max-connections: built once, written without a Date (it is
    // not cached yet here, and RFC 9110 §6.6.1 lets a server without a clock omit it).
    response busy = problem(503, "too many open connections; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    http::serialize_head(over_capacity_, busy, {false, false, 1}, date_.get(std::time(nullptr)),
                         cfg_.server_name);
    over_capacity_ += busy.body;
}

worker::~worker() {
    for (auto& c : slots_) {
        c.reset();
    }
    retired_.clear();
}

std::string_view worker::date() noexcept {
    return date_.get(date_second_);
}

std::unique_ptr<read_state> worker::acquire_read_state() {
    if (read_pool_.empty()) {
        return std::make_unique<read_state>();
    }
    auto rs = std::move(read_pool_.back());
    read_pool_.pop_back();
    return rs;
}

void worker::release_read_state(std::unique_ptr<read_state> rs) noexcept {
    // Keep only ordinary-sized buffers: one large body must not pin its memory for ever.
    if (read_pool_.size() < max_pooled && rs->in.capacity() <= 64 * 1024) {
        rs->head.fields.clear();
        read_pool_.push_back(std::move(rs));
    }
}

std::string worker::acquire_output() {
    if (output_pool_.empty()) {
        std::string s;
        s.reserve(1024);
        return s;
    }
    std::string s = std::move(output_pool_.back());
    output_pool_.pop_back();
    return s;
}

void worker::release_output(std::string&& s) noexcept {
    if (s.capacity() > 0 && s.capacity() <= 64 * 1024 && output_pool_.size() < max_pooled) {
        s.clear();
        output_pool_.push_back(std::move(s));
    } else {
        std::string().swap(s);
    }
}

void worker::log(const access_record& rec) {
    format_access_line(log_buf_, rec, cfg_.log_format);
}

std::optional<response> worker::dispatch(const request& rq, std::uint32_t slot) {
    const std::uint32_t generation = ++generations_[slot];
    dispatching_ = true;
    dispatch_slot_ = slot;
    immediate_.reset();
    try {
        cfg_.routes->dispatch(rq, responder(this, slot, generation));
    } catch (const std::exception&) {
        if (!immediate_) {
            immediate_ = problem(500, "the handler failed; the request was not completed");
        }
    }
    dispatching_ = false;
    std::optional<response> r = std::move(immediate_);
    immediate_.reset();
    return r;
}

void worker::deliver(std::uint32_t slot, std::uint32_t generation, response&& r) noexcept {
    if (current_worker == this && dispatching_ && dispatch_slot_ == slot &&
        generations_[slot] == generation && !immediate_) {
        immediate_ = std::move(r); // answered inside the handler: no queueing
        return;
    }
    try {
        post([this, slot, generation, res = std::move(r)]() mutable {
            if (slot < slots_.size() && slots_[slot] && generations_[slot] == generation) {
                slots_[slot]->on_response(std::move(res));
            }
        });
    } catch (...) {
        // Out of memory while posting: the connection times out instead.
    }
}

void worker::post(unique_function<void()> task) {
    {
        std::lock_guard lock(posted_mu_);
        posted_.push_back(std::move(task));
    }
    wakeup_.notify();
}

void worker::run_posted() {
    std::vector<unique_function<void()>> tasks;
    {
        std::lock_guard lock(posted_mu_);
        tasks.swap(posted_);
    }
    for (auto& t : tasks) {
        t();
    }
}

void worker::request_shutdown(std::int64_t deadline_ms) {
    shutdown_deadline_.store(deadline_ms);
    shutdown_requested_.store(true);
    wakeup_.notify();
}

void worker::retire(std::uint32_t slot) noexcept {
    ++generations_[slot]; // late answers and stale epoll events for this slot are ignored
    retired_.push_back(slot);
}

void worker::on_listener() noexcept {
    for (int i = 0; i < accepts_per_wakeup; ++i) {
        std::string peer;
        const int c = net::accept_connection(listener_.get(), peer);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: stop accepting for a moment rather than spin on the
                // listener, which stays readable.
                poller_.remove(listener_.get());
                accept_paused_until_ = now_ms_ + 100;
            }
            return; // EAGAIN, or a connection that died in the backlog
        }
        net::fd sock(c);
        if (cfg_.open_connections->fetch_add(1, std::memory_order_relaxed) >=
            cfg_.lim->max_connections) {
            cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
            ::send(sock.get(), over_capacity_.data(), over_capacity_.size(),
                   MSG_NOSIGNAL | MSG_DONTWAIT);
            continue; // closed by ~fd
        }
        std::uint32_t slot;
        if (!free_slots_.empty()) {
            slot = free_slots_.back();
            free_slots_.pop_back();
        } else {
            slot = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
            generations_.push_back(0);
        }
        try {
            const int raw = sock.get();
            slots_[slot] =
                std::make_unique<connection>(*this, std::move(sock), std::move(peer), slot);
            ++live_;
            // The request is usually there already: serve it before registering, and a one-shot
            // connection (Connection: close, HTTP/1.0) never costs an epoll_ctl.
            connection& conn = *slots_[slot];
            conn.on_events(EPOLLIN);
            if (!conn.closed()) {
                poller_.add(raw, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, std::uint64_t{slot});
            }
        } catch (...) {
            slots_[slot].reset();
            free_slots_.push_back(slot);
            cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
        }
    }
}

void worker::start_drain() {
    draining_ = true;
    poller_.remove(listener_.get());
    listener_.reset();
    for (auto& c : slots_) {
        if (c && !c->closed()) {
            c->drain();
        }
    }
}

void worker::run() {
    current_worker = this;
    for (;;) {
        now_ms_ = monotonic_ms();
        if (shutdown_requested_.load() && !draining_) {
            start_drain();
        }
        if (draining_ && (live_ == 0 || now_ms_ >= shutdown_deadline_.load())) {
            break;
        }
        int timeout = timers_.next_timeout_ms(now_ms_);
        if (accept_paused_until_ != 0 || draining_ || !log_buf_.empty()) {
            timeout = timeout < 0 ? 100 : std::min(timeout, 100);
        }
        const auto events = poller_.wait(timeout);
        now_ms_ = monotonic_ms();
        date_second_ = std::time(nullptr);
        for (const epoll_event& ev : events) {
            if (ev.data.u64 == listener_tag) {
                if (!draining_) {
                    on_listener();
                }
                continue;
            }
            if (ev.data.u64 == wakeup_tag) {
                wakeup_.drain();
                run_posted();
                continue;
            }
            const auto slot = static_cast<std::uint32_t>(ev.data.u64 & 0xffffffffu);
            connection* c = slot < slots_.size() ? slots_[slot].get() : nullptr;
            if (c != nullptr && !c->closed()) {
                c->on_events(ev.events);
            }
        }
        timers_.advance(now_ms_, [](net::timer_wheel::entry& e) {
            static_cast<connection_timer&>(e).owner->on_timer();
        });
        if (accept_paused_until_ != 0 && now_ms_ >= accept_paused_until_ && !draining_) {
            accept_paused_until_ = 0;
            poller_.add(listener_.get(), EPOLLIN, listener_tag);
        }
        for (const std::uint32_t slot : retired_) {
            slots_[slot].reset();
            free_slots_.push_back(slot);
            --live_;
            cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
        }
        retired_.clear();
        // Hand log lines over in batches (as nginx's `buffer=`/`flush=`): one wake-up of the
        // writer per 32 KiB or 100 ms, not one per loop iteration.
        if (!log_buf_.empty() &&
            (log_buf_.size() >= log_batch_bytes || now_ms_ - log_submitted_ms_ >= log_batch_ms)) {
            cfg_.log->submit(std::move(log_buf_));
            log_buf_ = std::string();
            log_buf_.reserve(log_batch_bytes + 1024);
            log_submitted_ms_ = now_ms_;
        }
    }
    // Past the deadline: close whatever is left (each close retires its slot).
    for (auto& c : slots_) {
        c.reset();
    }
    for (std::size_t i = 0; i < retired_.size(); ++i) {
        cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
    }
    retired_.clear();
    live_ = 0;
    if (!log_buf_.empty() && cfg_.log != nullptr) {
        cfg_.log->submit(std::move(log_buf_));
    }
    current_worker = nullptr;
}

} // namespace hs::server_detail
