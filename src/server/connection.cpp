#include "server/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "http/serializer.hpp"
#include "net/listener.hpp"
#include "server/worker.hpp"

namespace hs::server_detail {
namespace {

constexpr std::size_t head_read_size = 4096;
constexpr std::size_t chunked_read_size = 16 * 1024;
constexpr std::size_t output_high_water = 256 * 1024; // stop parsing pipelined requests past it
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace

connection::connection(worker& w, net::fd sock, std::string peer, std::uint32_t slot)
    : w_(w), sock_(std::move(sock)), peer_(std::move(peer)), slot_(slot), parser_(*w.config().lim),
      chunks_(*w.config().lim) {
    timer.owner = this;
    arm(deadline::first_byte, w_.config().lim->header_timeout);
}

connection::~connection() {
    close();
}

bool connection::backlogged() const noexcept {
    return out_.size() - out_pos_ > output_high_water;
}

void connection::on_events(std::uint32_t events) {
    if ((events & EPOLLERR) != 0) {
        close(); // reset by the peer, or another socket error: nothing more can be delivered
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) {
        readable_ = true;
    }
    if ((events & (EPOLLRDHUP | EPOLLHUP)) != 0) {
        peer_shut_ = true; // the FIN may have come with the data: a short read is not the end
    }
    if ((events & EPOLLOUT) != 0) {
        writable_ = true;
        flush();
    }
    if (readable_ && !closed()) {
        on_readable();
    }
}

void connection::on_readable() {
    while (readable_ && !closed()) {
        if (phase_ == phase::handler || phase_ == phase::closing || backlogged()) {
            return; // input waits in the socket: this is the backpressure on the client
        }
        if (!rs_) {
            rs_ = w_.acquire_read_state();
        }
        net::buffer& in = rs_->in;
        std::size_t want = head_read_size;
        if (phase_ == phase::body && plan_.body == http::message_plan::body_kind::length) {
            const std::size_t have = in.size() - head_len_;
            want = std::max<std::size_t>(
                plan_.content_length - std::min<std::size_t>(have, plan_.content_length), 1024);
        } else if (phase_ == phase::body) {
            want = chunked_read_size;
            if (in.free_tail() < want) {
                std::span<char> region(in.begin() + head_len_, in.size() - head_len_);
                in.shrink_end(chunks_.compact(region));
            }
        } else if (phase_ == phase::linger) {
            want = head_read_size;
            in.consume(in.size());
        }
        if (in.free_tail() < std::min<std::size_t>(want, 1024) || in.free_tail() == 0) {
            const char* old_begin = in.begin();
            const char* old_end = in.end();
            if (in.reserve_tail(want) && phase_ == phase::body) {
                rs_->head.rebase(old_begin, old_end, in.begin());
            }
        }
        const std::size_t space = in.free_tail();
        const ssize_t n = ::recv(sock_.get(), in.end(), space, 0);
        if (n > 0) {
            in.commit(static_cast<std::size_t>(n));
            // A short read drained the socket; edge-triggered epoll reports the next arrival.
            readable_ = peer_shut_ || static_cast<std::size_t>(n) == space;
            if (phase_ == phase::linger) {
                continue;
            }
            if (phase_ == phase::head && deadline_ != deadline::header) {
                started_ = std::chrono::steady_clock::now();
                arm(deadline::header, w_.config().lim->header_timeout); // RFC 9112 §9.8 slowloris
            }
            process();
        } else if (n == 0) {
            readable_ = false;
            peer_eof_ = true;
            if (phase_ == phase::linger) {
                close();
                return;
            }
            process();
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            readable_ = false;
        } else if (errno != EINTR) {
            close();
            return;
        }
    }
}

bool connection::read_body_complete(std::string_view& body, std::size_t& total) {
    net::buffer& in = rs_->in;
    switch (plan_.body) {
    case http::message_plan::body_kind::none:
        body = {};
        total = head_len_;
        return true;
    case http::message_plan::body_kind::length:
        if (in.size() - head_len_ < plan_.content_length) {
            return false;
        }
        body = std::string_view(in.begin() + head_len_, plan_.content_length);
        total = head_len_ + plan_.content_length;
        return true;
    case http::message_plan::body_kind::chunked: {
        std::span<char> region(in.begin() + head_len_, in.size() - head_len_);
        switch (chunks_.decode(region)) {
        case http::chunked_decoder::status::need_more:
            return false;
        case http::chunked_decoder::status::error:
            fail(chunks_.error());
            return false;
        case http::chunked_decoder::status::done:
            body = std::string_view(region.data(), chunks_.decoded_size());
            total = head_len_ + chunks_.consumed();
            return true;
        }
    }
    }
    return false;
}

void connection::process() {
    while (phase_ == phase::head || phase_ == phase::body) {
        if (backlogged() || !rs_) {
            break;
        }
        net::buffer& in = rs_->in;
        if (phase_ == phase::head) {
            if (in.empty()) {
                break;
            }
            const http::parse_result r = parser_.parse(in.view(), rs_->head);
            if (r.what == http::parse_result::kind::need_more) {
                break;
            }
            if (r.what == http::parse_result::kind::error) {
                fail(r.error);
                return;
            }
            head_len_ = r.consumed;
            const http::framing_result fr = http::plan_request(rs_->head, *w_.config().lim);
            phase_ = phase::body;
            if (fr.error != http::parse_error::none) {
                fail(fr.error);
                return;
            }
            plan_ = fr.plan;
            if (plan_.body == http::message_plan::body_kind::chunked) {
                chunks_.reset();
            }
            // RFC 9110 §10.1.1: say 100 only when the body has not started to arrive.
            if (plan_.expect_continue && plan_.body != http::message_plan::body_kind::none &&
                in.size() == head_len_) {
                if (out_.capacity() == 0) {
                    out_ = w_.acquire_output();
                }
                out_ += continue_line;
                flush();
                if (closed()) {
                    return;
                }
            }
            arm(deadline::body, w_.config().lim->header_timeout);
        }
        std::string_view body;
        std::size_t total = 0;
        if (!read_body_complete(body, total)) {
            break;
        }
        dispatch(body, total);
    }
    if (closed()) {
        return;
    }
    if (peer_eof_ && !backlogged() && (phase_ == phase::head || phase_ == phase::body)) {
        // The client will send nothing more: answer what is queued, then close. While output is
        // backlogged, complete pipelined requests may still wait in the buffer: after_flush()
        // comes back here once they are answered.
        phase_ = phase::closing;
    }
    flush();
}

void connection::dispatch(std::string_view body, std::size_t total) {
    request_len_ = total;
    const http::request_head& h = rs_->head;
    request rq;
    rq.method = h.method;
    rq.target = h.target;
    rq.path = h.path;
    rq.query = h.query;
    rq.version_minor = h.version_minor;
    rq.headers = h.fields;
    rq.body = body;
    rq.peer = peer_;
    phase_ = phase::handler;
    arm(deadline::none, {});
    if (std::optional<response> r = w_.dispatch(rq, slot_)) {
        finish(std::move(*r));
    }
}

void connection::on_response(response&& r) {
    if (phase_ != phase::handler) {
        return;
    }
    finish(std::move(r));
    if (closed()) {
        return;
    }
    process(); // pipelined requests waited in the buffer
    if (!closed() && readable_) {
        on_readable();
    }
}

void connection::finish(response&& r) {
    const http::request_head& h = rs_->head;
    const bool head_request = h.method == "HEAD";
    const bool keep_alive = plan_.keep_alive && !r.close && !draining_;
    if (keep_alive && !nodelay_) {
        // Only a connection that stays open can have a response wait behind an unacknowledged
        // one (Nagle): one setsockopt per keep-alive connection, none for one-shot ones.
        net::set_nodelay(sock_.get());
        nodelay_ = true;
    }
    write_response(r, head_request, keep_alive);
    log_request(r.status, http::sends_body(r, {head_request, keep_alive, 1}) ? r.body.size() : 0);
    rs_->in.consume(request_len_);
    parser_.reset();
    phase_ = keep_alive ? phase::head : phase::closing;
    // Unread bytes after a final response: drain them before closing so the client is not reset.
    linger_after_write_ = !keep_alive && !rs_->in.empty();
    arm(deadline::none, {});
}

void connection::fail(http::parse_error e) {
    const http::error_info& info = http::describe(e);
    const response r = problem(info.status, info.detail);
    write_response(r, false, false);
    log_request(info.status, r.body.size());
    phase_ = phase::closing;
    linger_after_write_ = true;
    arm(deadline::none, {});
    flush();
}

void connection::write_response(const response& r, bool head_request, bool keep_alive) {
    if (out_.capacity() == 0) {
        out_ = w_.acquire_output();
    }
    const int minor = phase_ == phase::head ? 1 : rs_->head.version_minor;
    const http::response_framing f{head_request, keep_alive, minor};
    http::serialize_head(out_, r, f, w_.date(), w_.config().server_name);
    if (http::sends_body(r, f)) {
        out_ += r.body;
    }
}

void connection::log_request(int status, std::size_t body_bytes) {
    if (!w_.logging()) {
        return;
    }
    access_record rec;
    rec.peer = peer_;
    rec.status = status;
    rec.body_bytes = body_bytes;
    rec.time = std::chrono::system_clock::now();
    rec.duration = std::chrono::steady_clock::now() - started_;
    if (phase_ != phase::head && rs_) { // the head was parsed: its views are valid
        const http::request_head& h = rs_->head;
        rec.method = h.method;
        rec.target = h.target;
        rec.version_minor = h.version_minor;
        for (const header& f : h.fields) {
            if (iequals(f.name, "user-agent")) {
                rec.user_agent = f.value;
            } else if (iequals(f.name, "referer")) {
                rec.referer = f.value;
            }
        }
    } else {
        rec.version_minor = -1; // no request line could be read
    }
    w_.log(rec);
}

void connection::flush() {
    while (out_pos_ < out_.size() && writable_) {
        const std::size_t left = out_.size() - out_pos_;
        const ssize_t n = ::send(sock_.get(), out_.data() + out_pos_, left, MSG_NOSIGNAL);
        if (n >= 0) {
            out_pos_ += static_cast<std::size_t>(n);
            writable_ = static_cast<std::size_t>(n) == left;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            writable_ = false;
        } else if (errno != EINTR) {
            close(); // EPIPE, ECONNRESET: the client is gone
            return;
        }
    }
    if (out_pos_ < out_.size()) {
        arm(deadline::write, w_.config().lim->idle_timeout);
        return;
    }
    after_flush();
}

void connection::after_flush() {
    const bool was_backlogged = out_.size() > output_high_water;
    w_.release_output(std::move(out_));
    out_ = std::string();
    out_pos_ = 0;
    if (phase_ == phase::closing) {
        if (linger_after_write_ && !peer_eof_) {
            ::shutdown(sock_.get(), SHUT_WR);
            phase_ = phase::linger;
            arm(deadline::linger, linger_time);
            return;
        }
        close();
        return;
    }
    if (was_backlogged && phase_ == phase::head) {
        process();
        if (closed() || out_pos_ < out_.size()) {
            return;
        }
    }
    arm_waiting();
}

void connection::arm_waiting() noexcept {
    if (phase_ == phase::head) {
        if (!rs_ || rs_->in.empty()) {
            release_idle_buffers();
            if (draining_) {
                close();
                return;
            }
            if (deadline_ != deadline::first_byte) {
                arm(deadline::idle, w_.config().lim->idle_timeout);
            }
        } else if (deadline_ != deadline::header) {
            started_ = std::chrono::steady_clock::now();
            arm(deadline::header, w_.config().lim->header_timeout);
        }
    }
}

void connection::release_idle_buffers() noexcept {
    if (rs_ && rs_->in.empty()) {
        w_.release_read_state(std::move(rs_));
    }
}

void connection::arm(deadline d, std::chrono::milliseconds after) noexcept {
    deadline_ = d;
    if (d == deadline::none) {
        w_.timers().cancel(timer);
        return;
    }
    w_.timers().schedule(timer, w_.now_ms() + after.count());
}

void connection::on_timer() {
    const deadline d = deadline_;
    deadline_ = deadline::none;
    switch (d) {
    case deadline::header:
        fail(http::parse_error::header_timeout);
        return;
    case deadline::body:
        fail(http::parse_error::body_timeout);
        return;
    case deadline::none:
        return;
    case deadline::first_byte: // nothing was asked: close without a word, as on idle
    case deadline::idle:
    case deadline::write:
    case deadline::linger:
        close();
        return;
    }
}

void connection::drain() {
    draining_ = true;
    if (phase_ == phase::head && (!rs_ || rs_->in.empty()) && out_pos_ == out_.size()) {
        close();
    }
}

void connection::close() noexcept {
    if (phase_ == phase::closed) {
        return;
    }
    phase_ = phase::closed;
    w_.timers().cancel(timer);
    sock_.reset(); // also removes it from epoll
    if (rs_) {
        rs_->in.consume(rs_->in.size());
        w_.release_read_state(std::move(rs_));
    }
    w_.release_output(std::move(out_));
    w_.retire(slot_);
}

} // namespace hs::server_detail
