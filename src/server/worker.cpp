#include "server/worker.hpp"

#include <ctime>

#include "http/serializer.hpp"
#include "server/connection.hpp"

namespace hs::server_detail {
namespace {

/// The whole 503 for connections past --max-connections, built once, without a Date (RFC 9110
/// §6.6.1 lets a server without a clock omit it; this one is not per request).
std::string refusal_response(const shared_config& cfg) {
    response busy = problem(503, "too many open connections; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    std::string out;
    http::serialize_head(out, busy, {false, false, 1}, {}, cfg.server_name);
    out += busy.body;
    return out;
}

} // namespace

worker::worker(const shared_config& cfg, int listen_fd, unsigned index)
    : cfg_(cfg), context_{loop_, index, {}}, log_(cfg.log, cfg.log_format),
      acceptor_(*this, listen_fd, refusal_response(cfg)) {}

worker::~worker() {
    conns_.clear();
    retired_.clear();
}

std::string_view worker::date() noexcept {
    if (date_iteration_ != loop_.iteration()) {
        date_iteration_ = loop_.iteration();
        date_second_ = std::time(nullptr);
    }
    return date_.get(date_second_);
}

exchange* worker::acquire_exchange() {
    if (exchange* e = pools_.take_exchange()) {
        return e;
    }
    return new exchange(*this, loop_.shared_mailbox());
}

void worker::adopt(int sock, std::string peer) noexcept {
    std::unique_ptr<net::transport> t;
    try {
        t = cfg_.transports != nullptr ? cfg_.transports->wrap(sock)
                                       : net::make_tcp_transport(sock);
    } catch (...) {
        // wrap() owns the socket: it closed it. Nothing else was taken.
        cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    connection* c = nullptr;
    try {
        conns_.push_back(nullptr);
        conns_.back() =
            std::make_unique<connection>(*this, std::move(t), std::move(peer), conns_.size() - 1);
        c = conns_.back().get();
    } catch (...) {
        if (!conns_.empty() && conns_.back() == nullptr) {
            conns_.pop_back();
        }
        // The transport (and its socket) went with the failed construction.
        cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    ++live_;
    // From here on the connection owns the count: every way out is close() -> retire(), which
    // gives it back once. An exception while serving the first request closes it the same way.
    c->start();
}

std::optional<response> worker::dispatch(exchange& ex) {
    ++outstanding_;
    ex.hold();
    // Handlers never run nested (answers from other callbacks are deferred), but restore the
    // state on every way out all the same.
    struct restore {
        worker& w;
        ~restore() { w.dispatching_ = nullptr; }
    } guard{*this};
    dispatching_ = &ex;
    immediate_.reset();
    try {
        cfg_.routes->dispatch(ex.rq, ex.params, responder(&ex));
    } catch (...) {
        if (!immediate_) {
            immediate_ = problem(500, "the handler failed; the request was not completed");
            // Its responder may still be out (moved into work that will answer later): the
            // exchange cannot be reused for the next request, so this connection ends here.
            immediate_->close = ex.held_by_responder();
        }
    }
    std::optional<response> r = std::move(immediate_);
    immediate_.reset();
    return r;
}

void worker::on_answer(exchange& ex, connection* waiting, response&& r) noexcept {
    if (dispatching_ == &ex && !immediate_) {
        immediate_ = std::move(r); // answered inside the handler: no queueing
        return;
    }
    if (waiting != nullptr) {
        waiting->on_response(std::move(r));
    }
}

std::optional<stream_piece> worker::produce(exchange& ex) {
    ++outstanding_;
    ex.hold();
    struct restore {
        worker& w;
        ~restore() { w.producing_ = nullptr; }
    } guard{*this};
    producing_ = &ex;
    immediate_piece_.reset();
    try {
        ex.stream->produce(piece_channel(&ex));
    } catch (...) {
        // A broken source ends its body, whatever it handed over first. If it moved its channel
        // on, the piece that comes later finds the body already ended; the source itself lives
        // until then (the exchange frees it once no piece is outstanding).
        if (!immediate_piece_ || immediate_piece_->kind == piece_sink::kind::more) {
            immediate_piece_ = stream_piece{{}, piece_sink::kind::failed};
        }
    }
    std::optional<stream_piece> p = std::move(immediate_piece_);
    immediate_piece_.reset();
    return p;
}

void worker::on_piece(exchange& ex, connection* waiting, stream_piece&& p) noexcept {
    if (producing_ == &ex && !immediate_piece_) {
        immediate_piece_ = std::move(p);
        return;
    }
    if (waiting != nullptr) {
        waiting->on_piece(std::move(p));
    }
}

void worker::resume_later(connection& c) {
    resume_.push_back(&c);
    if (resume_.size() == 1) {
        // One task for all of them, through the mailbox: it runs in the next iteration, after
        // the descriptors ready by then, inside the loop (so pieces produced there are caught at
        // once, and loop::current() holds).
        loop_.post([this] { run_resumes(); });
    }
}

void worker::run_resumes() noexcept {
    // Connections closed since they asked took themselves off; the ones closed while these run
    // are still alive (retired, not yet freed) and say so.
    resuming_.swap(resume_);
    for (connection* c : resuming_) {
        c->resume_stream();
    }
    resuming_.clear();
}

void worker::cancel_resume(connection& c) noexcept {
    std::erase(resume_, &c);
}

void worker::retire(connection& c) noexcept {
    // Its descriptor is closed: its place under the cap is free now, not at the end of the
    // iteration (the acceptor may take many connections in one).
    --live_;
    cfg_.open_connections->fetch_sub(1, std::memory_order_relaxed);
    // Swap-remove from the live table; destroy at the end of the iteration (we may be inside
    // one of c's member functions).
    const std::size_t i = c.index();
    try {
        retired_.reserve(retired_.size() + 1);
    } catch (...) {
        return; // cannot defer: the closed connection stays in the table until ~worker
    }
    std::unique_ptr<connection> own = std::move(conns_[i]);
    if (i + 1 != conns_.size()) {
        conns_[i] = std::move(conns_.back());
        conns_[i]->set_index(i);
    }
    conns_.pop_back();
    retired_.push_back(std::move(own));
}

void worker::free_retired() noexcept {
    if (!retired_.empty()) {
        retired_.clear();
    }
}

void worker::request_shutdown(std::int64_t deadline_ms) {
    shutdown_deadline_.store(deadline_ms);
    shutdown_requested_.store(true);
    loop_.post([] {}); // wake the loop
}

void worker::start_drain() {
    draining_ = true;
    acceptor_.stop();
    // Closing may retire connections from the table as we walk it: walk a snapshot.
    std::vector<connection*> open;
    open.reserve(conns_.size());
    for (auto& c : conns_) {
        open.push_back(c.get());
    }
    for (connection* c : open) {
        c->drain();
    }
}

void worker::turn(int max_wait_ms) {
    loop_.run_once(max_wait_ms);
    free_retired();
    acceptor_.free_dead();
    log_.maybe_submit(loop_.now_ms());
}

void worker::run(const std::function<void(std::exception_ptr)>& started) {
    const bool has_stop_hook = cfg_.on_stop != nullptr && *cfg_.on_stop;
    {
        // The hooks run on this thread, before the loop turns (loop::current() is null in
        // them): they may register descriptors and timers on it, and post or defer.
        std::exception_ptr failure;
        bool hook_ran = false;
        try {
            if (cfg_.on_start != nullptr && *cfg_.on_start) {
                (*cfg_.on_start)(context_);
            }
            hook_ran = true;
            acceptor_.start();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure && hook_ran && has_stop_hook) {
            try {
                (*cfg_.on_stop)(context_); // undo what the start hook built
            } catch (...) {
            }
        }
        started(failure);
        if (failure) {
            return;
        }
    }
    for (;;) {
        const std::int64_t now = loop_.now_ms(); // read after the last wait
        if (shutdown_requested_.load() && !draining_) {
            start_drain();
        }
        // Refused sockets still lingering do not hold the exit: they are closed with the worker.
        if (draining_ && ((live_ == 0 && outstanding_ == 0) || now >= shutdown_deadline_.load())) {
            break;
        }
        // Wake at least every 100 ms while log lines wait or while draining.
        turn((draining_ || !log_.empty()) ? 100 : -1);
    }
    // Past the deadline (or drained): close whatever is left; late answers find no connection.
    {
        std::vector<connection*> open;
        for (auto& c : conns_) {
            open.push_back(c.get());
        }
        for (connection* c : open) {
            c->abort();
        }
    }
    free_retired();
    resume_.clear();
    conns_.clear();
    if (has_stop_hook) {
        try {
            (*cfg_.on_stop)(context_);
        } catch (...) {
        }
    }
    log_.maybe_submit(loop_.now_ms(), true);
}

} // namespace hs::server_detail
