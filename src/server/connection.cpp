#include "server/connection.hpp"

#include <sys/epoll.h>

#include "http/serializer.hpp"
#include "server/exchange.hpp"
#include "server/worker.hpp"

namespace hs::server_detail {
namespace {

constexpr std::size_t head_read_size = 4096;
constexpr std::size_t chunked_read_size = 16 * 1024;
constexpr std::size_t output_high_water = 256 * 1024; // stop parsing pipelined requests past it
// A streamed body: the next piece is asked for only while less than this is unsent, so a client
// that stops reading pins this much plus one piece.
constexpr std::size_t stream_low_water = 64 * 1024;
// What one connection may stream in one loop iteration before the others get their turn.
constexpr std::size_t stream_turn_budget = 64 * 1024;
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::uint32_t interest = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

} // namespace

connection::connection(worker& w, std::unique_ptr<net::transport> t, std::string peer,
                       std::size_t index)
    : w_(w), io_(std::move(t)), peer_(std::move(peer)), index_(index),
      serial_(w.next_connection_serial()), log_on_(w.logging()), parser_(*w.config().lim),
      chunks_(*w.config().lim), read_timer_([this] { on_read_timer(); }),
      write_timer_([this] { on_write_timer(); }) {
    arm(deadline::first_byte, w_.config().lim->header_timeout);
}

connection::~connection() {
    read_timer_.cancel();
    write_timer_.cancel();
    if (registered_ && state_ != state::closed) {
        w_.loop().forget(*this);
    }
    if (io_) {
        io_->close();
    }
    let_go_of_exchange();
}

void connection::start() noexcept {
    try {
        // The request is usually there already: serve it before registering, and a one-shot
        // connection (Connection: close, HTTP/1.0) never costs an epoll_ctl.
        handle_events(EPOLLIN);
        if (!closed()) {
            w_.loop().add(io_->fd(), interest, *this);
            registered_ = true;
        }
    } catch (...) {
        fail_safe();
    }
}

void connection::on_io(std::uint32_t events) {
    try {
        handle_events(events);
    } catch (...) {
        fail_safe();
    }
}

void connection::fail_safe() noexcept {
    close(); // out of memory mid-request, or the loop refused the descriptor
}

bool connection::backlogged() const noexcept {
    return out_.size() - out_pos_ > output_high_water;
}

void connection::handle_events(std::uint32_t events) {
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
    if ((events & EPOLLHUP) != 0 && (state_ == state::handler || state_ == state::stream)) {
        // Gone both ways while its handler works: nobody can read the answer. (A half-closed
        // client, EPOLLRDHUP alone, still gets it.) The responder keeps the request alive.
        close();
        return;
    }
    if ((events & EPOLLOUT) != 0) {
        writable_ = true;
        flush();
        if (state_ == state::stream) {
            continue_stream();
        }
    }
    if (readable_ && !closed()) {
        on_readable();
    }
}

void connection::on_readable() {
    while (readable_ && !closed()) {
        if (state_ == state::handler || state_ == state::stream || state_ == state::closing ||
            backlogged()) {
            return; // input waits in the socket: this is the backpressure on the client
        }
        if (ex_ == nullptr) {
            ex_ = w_.acquire_exchange();
        }
        net::buffer& in = ex_->in;
        std::size_t want = head_read_size;
        if (state_ == state::body && plan_.body == http::message_plan::body_kind::length) {
            const std::size_t have = in.size() - head_len_;
            want = std::max<std::size_t>(
                plan_.content_length - std::min<std::size_t>(have, plan_.content_length), 1024);
        } else if (state_ == state::body) {
            want = chunked_read_size;
            if (in.free_tail() < want) {
                std::span<char> region(in.begin() + head_len_, in.size() - head_len_);
                in.shrink_end(chunks_.compact(region));
            }
        } else if (state_ == state::linger) {
            want = head_read_size;
            in.consume(in.size());
        }
        if (in.free_tail() < std::min<std::size_t>(want, 1024) || in.free_tail() == 0) {
            const char* old_begin = in.begin();
            const char* old_end = in.end();
            if (in.reserve_tail(want) && state_ == state::body) {
                ex_->head.rebase(old_begin, old_end, in.begin());
            }
        }
        const net::io_result r = io_->read({in.end(), in.free_tail()});
        switch (r.what) {
        case net::io_result::status::ok:
            in.commit(r.bytes);
            // A drained read: the loop (edge-triggered) reports the next arrival.
            readable_ = peer_shut_ || !r.drained;
            if (state_ == state::linger) {
                continue;
            }
            if (state_ == state::head && head_start_ms_ < 0) {
                head_started(); // the deadline itself is armed only if the head is incomplete
            }
            process();
            break;
        case net::io_result::status::eof:
            readable_ = false;
            peer_eof_ = true;
            if (state_ == state::linger) {
                close();
                return;
            }
            process();
            break;
        case net::io_result::status::would_block:
            readable_ = false;
            break;
        case net::io_result::status::error:
            close();
            return;
        }
    }
}

bool connection::read_body_complete(std::string_view& body, std::size_t& total) {
    net::buffer& in = ex_->in;
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
    while (state_ == state::head || state_ == state::body) {
        if (backlogged() || ex_ == nullptr) {
            break;
        }
        net::buffer& in = ex_->in;
        if (state_ == state::head) {
            if (in.empty()) {
                break;
            }
            const http::parse_result r = parser_.parse(in.view(), ex_->head);
            if (r.what == http::parse_result::kind::need_more) {
                arm_header(); // RFC 9112 §9.8: absolute, from the head's first byte (slowloris)
                break;
            }
            if (r.what == http::parse_result::kind::error) {
                fail(r.error);
                return;
            }
            head_len_ = r.consumed;
            const http::framing_result fr = http::plan_request(ex_->head, *w_.config().lim);
            state_ = state::body;
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
                ensure_output();
                out_ += continue_line;
                flush();
                if (closed()) {
                    return;
                }
            }
        }
        std::string_view body;
        std::size_t total = 0;
        if (!read_body_complete(body, total)) {
            if (state_ == state::body) {
                // Incomplete after a read: the longest stall runs from now (each read that
                // brings body bytes comes back here).
                arm(deadline::body, w_.config().lim->header_timeout);
            }
            break;
        }
        dispatch(body, total);
    }
    if (closed()) {
        return;
    }
    if (peer_eof_ && !backlogged() && (state_ == state::head || state_ == state::body)) {
        // The client will send nothing more: answer what is queued, then close. While output is
        // backlogged, complete pipelined requests may still wait in the buffer: after_flush()
        // comes back here once they are answered.
        state_ = state::closing;
    }
    flush();
}

void connection::dispatch(std::string_view body, std::size_t total) {
    request_len_ = total;
    exchange& ex = *ex_;
    const http::request_head& h = ex.head;
    request& rq = ex.rq;
    rq.method = h.method;
    rq.target = h.target;
    rq.path = h.path;
    rq.query = h.query;
    rq.version_minor = h.version_minor;
    rq.headers = h.fields;
    rq.body = body;
    if (ex.peer_of != serial_) { // pipelined requests reuse the exchange: copy once
        ex.peer = peer_;
        ex.peer_of = serial_;
    }
    rq.peer = ex.peer;
    rq.worker = &w_.context();
    ex.conn = this;
    state_ = state::handler;
    head_start_ms_ = -1;
    arm(deadline::none, {});
    if (std::optional<response> r = w_.dispatch(ex)) {
        if (!closed()) {
            finish(std::move(*r));
        }
    } else if (!closed()) {
        // Answered later: nothing arrives before dispatch returns (answers from elsewhere are
        // posted or deferred), so the deadline is armed only for the requests that need it.
        arm(deadline::handler, w_.config().lim->handler_timeout);
    }
}

void connection::on_response(response&& r) noexcept {
    try {
        if (state_ != state::handler) {
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
    } catch (...) {
        fail_safe();
    }
}

void connection::finish(response&& r) {
    const http::request_head& h = ex_->head;
    const bool head_request = h.method == "HEAD";
    std::string why;
    if (!http::well_formed(r, why, w_.known_good_type())) {
        // Never let a handler's CR/LF split the response (or a header clash with the framing).
        r = problem(500, "the handler produced an invalid response: " + why);
    } else {
        w_.remember_good_type(r.content_type);
    }
    bool keep_alive = plan_.keep_alive && !r.close && !draining_ && !w_.stopping();
    const bool streamed = r.stream && http::sends_body(r, {head_request, keep_alive, 1});
    if (streamed && h.version_minor == 0) {
        keep_alive = false; // no chunked coding on HTTP/1.0: the body ends with the connection
    }
    if (keep_alive && !nodelay_) {
        // Only a connection that stays open can have a response wait behind an unacknowledged
        // one (Nagle): one setsockopt per keep-alive connection, none for one-shot ones.
        io_->set_nodelay();
        nodelay_ = true;
    }
    write_response(r, head_request, keep_alive);
    if (streamed) {
        ex_->stream = std::move(r.stream);
        stream_chunked_ = h.version_minor >= 1;
        stream_keep_alive_ = keep_alive;
        stream_status_ = r.status;
        streamed_bytes_ = r.body.size();
        awaiting_piece_ = false;
        state_ = state::stream;
        arm(deadline::none, {});
        pump(); // the caller goes on with pipelined requests if it ended already
        return;
    }
    const http::response_framing f{head_request, keep_alive, 1};
    log_request(r.status, http::sends_body(r, f) ? r.body.size() : 0);
    end_exchange(keep_alive);
}

void connection::end_exchange(bool keep_alive) {
    if (ex_->held_by_responder()) {
        // The handler threw after handing its responder on: that exchange is not ours to reuse.
        let_go_of_exchange();
    } else {
        ex_->conn = nullptr;
        ex_->in.consume(request_len_);
    }
    parser_.reset();
    state_ = keep_alive ? state::head : state::closing;
    // Unread bytes after a final response: drain them before closing so the client is not reset.
    linger_after_write_ = !keep_alive && (ex_ == nullptr || !ex_->in.empty());
    arm(deadline::none, {});
    if (keep_alive && ex_ != nullptr && !ex_->in.empty()) {
        // The next head has begun: its deadline runs from now, whatever the output does. When
        // output is backlogged it will not be parsed for a while: arm now. Otherwise process()
        // parses it next and arms only if it is incomplete.
        head_started();
        if (backlogged()) {
            arm_header();
        }
    }
}

void connection::pump() {
    if (budget_turn_ != w_.loop().iteration()) {
        budget_turn_ = w_.loop().iteration();
        stream_budget_ = stream_turn_budget;
    }
    while (state_ == state::stream && !awaiting_piece_) {
        if (unsent() >= stream_low_water) {
            if (!writable_) {
                return; // the client reads slowly: EPOLLOUT brings us back (stall timer runs)
            }
            flush(); // not tried since it grew (a head with a large first piece)
            if (closed() || unsent() >= stream_low_water) {
                return;
            }
            continue;
        }
        if (stream_budget_ == 0) {
            if (!resume_queued_) {
                w_.resume_later(*this); // the other connections on this loop go first
                resume_queued_ = true;
            }
            return;
        }
        awaiting_piece_ = true;
        std::optional<stream_piece> p = w_.produce(*ex_);
        if (!p) {
            // Comes later (on_piece); a source that never answers is cut off like a handler.
            arm(deadline::piece, w_.config().lim->handler_timeout);
            return;
        }
        const bool ends = p->kind != piece_sink::kind::more;
        take_piece(std::move(*p));
        if (ends) {
            return; // what follows the body is the caller's (continue_stream, process)
        }
    }
}

void connection::take_piece(stream_piece&& p) {
    awaiting_piece_ = false;
    arm(deadline::none, {});
    ensure_output();
    if (p.kind == piece_sink::kind::failed) {
        // Cut off: no last chunk, and the connection closes after what is queued, so the client
        // cannot take the truncated body for a whole one. The source is freed with the exchange
        // (a piece may still be outstanding, see worker::produce).
        cut_stream();
        return;
    }
    if (out_pos_ > 0) {
        // A reader that takes a little at a time: drop what it took (less than the low-water
        // mark is moved) so the buffer stays bounded instead of holding the whole body.
        out_.erase(0, out_pos_);
        out_pos_ = 0;
    }
    if (stream_chunked_) {
        http::append_chunk(out_, p.bytes);
    } else {
        out_ += p.bytes;
    }
    streamed_bytes_ += p.bytes.size();
    stream_budget_ -= std::min(stream_budget_, p.bytes.size() + 1); // an empty piece counts too
    if (p.kind == piece_sink::kind::last) {
        if (stream_chunked_) {
            out_ += http::last_chunk;
        }
        ex_->stream.reset(); // not inside its produce: pump and the late paths call this after it
        log_request(stream_status_, streamed_bytes_);
        end_exchange(stream_keep_alive_ && !draining_ && !w_.stopping());
    }
    flush();
}

void connection::cut_stream() {
    log_request(stream_status_, streamed_bytes_);
    state_ = state::closing; // close() logs nothing more
    let_go_of_exchange();
    if (!stream_chunked_) {
        // A close-delimited body (HTTP/1.0) would look complete after a FIN: reset instead.
        close(true);
        return;
    }
    linger_after_write_ = true;
    flush();
}

void connection::continue_stream() {
    pump();
    if (closed() || state_ == state::stream) {
        return;
    }
    process(); // the body ended: pipelined requests waited in the buffer
    if (!closed() && readable_) {
        on_readable();
    }
}

void connection::on_piece(stream_piece&& p) noexcept {
    try {
        if (state_ != state::stream || !awaiting_piece_) {
            return;
        }
        take_piece(std::move(p));
        if (!closed()) {
            continue_stream();
        }
    } catch (...) {
        fail_safe();
    }
}

void connection::resume_stream() noexcept {
    resume_queued_ = false;
    try {
        if (state_ == state::stream) {
            continue_stream();
        }
    } catch (...) {
        fail_safe();
    }
}

void connection::fail(http::parse_error e) {
    const http::error_info& info = http::describe(e);
    const response r = problem(info.status, info.detail);
    write_response(r, false, false);
    log_request(info.status, r.body.size());
    state_ = state::closing;
    linger_after_write_ = true;
    arm(deadline::none, {});
    flush();
}

void connection::write_response(const response& r, bool head_request, bool keep_alive) {
    ensure_output();
    const int minor = state_ == state::head || ex_ == nullptr ? 1 : ex_->head.version_minor;
    const http::response_framing f{head_request, keep_alive, minor};
    http::serialize_head(out_, r, f, w_.date(), w_.config().server_name);
    if (!http::sends_body(r, f)) {
        return;
    }
    if (r.stream && minor >= 1) {
        http::append_chunk(out_, r.body); // the stream's first piece
    } else {
        out_ += r.body;
    }
}

void connection::ensure_output() {
    // A released buffer is an empty std::string, whose capacity is its small inline buffer (not
    // 0): writing a response into it would reallocate it three or four times.
    if (out_.empty() && out_.capacity() < pools::output_reserve) {
        out_ = w_.acquire_output();
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
    if (state_ != state::head && ex_ != nullptr) { // the head was parsed: its views are valid
        const http::request_head& h = ex_->head;
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
        const net::io_result r = io_->write({out_.data() + out_pos_, left});
        if (r.what == net::io_result::status::ok) {
            out_pos_ += r.bytes;
            writable_ = r.bytes == left;
            last_write_ms_ = w_.loop().now_ms();
        } else if (r.what == net::io_result::status::would_block) {
            writable_ = false;
        } else {
            close(); // EPIPE, ECONNRESET: the client is gone
            return;
        }
    }
    if (out_pos_ < out_.size()) {
        if (!write_timer_.pending()) {
            // A stall timer: each write that moves bytes counts as progress (on_write_timer
            // looks at last_write_ms_), without a wheel operation per write.
            last_write_ms_ = w_.loop().now_ms();
            w_.loop().schedule(write_timer_, w_.config().lim->idle_timeout);
        }
        return;
    }
    write_timer_.cancel();
    after_flush();
}

void connection::after_flush() {
    if (state_ == state::stream) {
        out_.clear(); // more pieces follow: keep the buffer
        out_pos_ = 0;
        return;
    }
    const bool was_backlogged = out_.size() > output_high_water;
    w_.release_output(std::move(out_));
    out_ = std::string();
    out_pos_ = 0;
    if (state_ == state::closing) {
        if (linger_after_write_ && !peer_eof_) {
            io_->shutdown_write();
            state_ = state::linger;
            arm(deadline::linger, linger_time);
            return;
        }
        close();
        return;
    }
    if (was_backlogged && state_ == state::head) {
        process();
        if (closed() || out_pos_ < out_.size()) {
            return;
        }
    }
    arm_waiting();
}

void connection::arm_waiting() noexcept {
    if (state_ != state::head) {
        return;
    }
    if (ex_ == nullptr || ex_->in.empty()) {
        release_idle_buffers();
        if (draining_) {
            close();
            return;
        }
        if (deadline_ != deadline::first_byte && deadline_ != deadline::idle) {
            arm(deadline::idle, w_.config().lim->idle_timeout);
        }
    } else {
        arm_header();
    }
}

void connection::release_idle_buffers() noexcept {
    if (ex_ != nullptr && ex_->in.empty()) {
        let_go_of_exchange();
    }
}

void connection::let_go_of_exchange() noexcept {
    if (ex_ != nullptr) {
        ex_->conn = nullptr;
        std::exchange(ex_, nullptr)->release();
    }
}

void connection::head_started() noexcept {
    head_start_ms_ = w_.loop().now_ms();
    mark_start();
}

void connection::arm_header() noexcept {
    if (head_start_ms_ < 0) {
        head_started();
    }
    if (deadline_ != deadline::header) {
        deadline_ = deadline::header;
        w_.loop().schedule_at(read_timer_,
                              head_start_ms_ + w_.config().lim->header_timeout.count());
    }
}

void connection::arm(deadline d, std::chrono::milliseconds after) noexcept {
    deadline_ = d;
    if (d == deadline::none) {
        read_timer_.cancel();
        return;
    }
    w_.loop().schedule(read_timer_, after);
}

void connection::on_read_timer() {
    const deadline d = deadline_;
    deadline_ = deadline::none;
    try {
        switch (d) {
        case deadline::header:
            fail(http::parse_error::header_timeout);
            return;
        case deadline::body:
            fail(http::parse_error::body_timeout);
            return;
        case deadline::handler: {
            // The answer never came: tell the client, and let the responder keep the request's
            // memory (it may still answer; that answer is then dropped).
            response r = problem(504, "the request handler did not answer in time");
            write_response(r, false, false);
            log_request(504, r.body.size());
            let_go_of_exchange();
            state_ = state::closing;
            linger_after_write_ = true;
            flush();
            if (!closed() && readable_) {
                on_readable(); // input that waited during the handler: drain it (linger)
            }
            return;
        }
        case deadline::piece:
            // The body's source did not answer in time: cut the body off.
            cut_stream();
            return;
        case deadline::none:
            return;
        case deadline::first_byte: // nothing was asked: close without a word, as on idle
        case deadline::idle:
        case deadline::linger:
            close();
            return;
        }
    } catch (...) {
        fail_safe();
    }
}

void connection::on_write_timer() {
    const std::int64_t stalled_ms = w_.loop().now_ms() - last_write_ms_;
    const std::int64_t limit_ms = w_.config().lim->idle_timeout.count();
    if (stalled_ms < limit_ms) {
        // Slow but moving: the stall began at the last write that made progress.
        w_.loop().schedule(write_timer_, std::chrono::milliseconds(limit_ms - stalled_ms));
        return;
    }
    close(); // the client read nothing for --idle-timeout
}

void connection::drain() noexcept {
    draining_ = true;
    if (state_ == state::head && (ex_ == nullptr || ex_->in.empty()) && out_pos_ == out_.size()) {
        close();
    }
}

void connection::close(bool abortive) noexcept {
    if (state_ == state::closed) {
        return;
    }
    if (state_ == state::stream) {
        // The client left mid-body (reset, stall, shutdown deadline): its line still counts.
        try {
            log_request(stream_status_, streamed_bytes_);
        } catch (...) {
        }
        if (!stream_chunked_) {
            abortive = true;
        }
    }
    state_ = state::closed;
    read_timer_.cancel();
    write_timer_.cancel();
    if (resume_queued_) {
        w_.cancel_resume(*this);
        resume_queued_ = false;
    }
    if (registered_) {
        // Unregister explicitly (once per connection, not per request): close() alone leaves
        // the registration alive if a forked child still holds the descriptor.
        w_.loop().remove(io_->fd(), *this);
    }
    if (abortive) {
        io_->reset();
    } else {
        io_->close();
    }
    let_go_of_exchange();
    w_.release_output(std::move(out_));
    out_ = std::string();
    out_pos_ = 0;
    w_.retire(*this);
}

} // namespace hs::server_detail
