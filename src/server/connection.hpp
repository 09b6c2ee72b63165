#pragma once
/// \file One client connection driven through the layers by an explicit state machine.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hs/loop.hpp"
#include "hs/transport.hpp"
#include "http/chunked_decoder.hpp"
#include "http/framing.hpp"
#include "http/parse_error.hpp"
#include "http/request_parser.hpp"
#include "server/exchange.hpp"

namespace hs::server_detail {

class worker;
class exchange;

/// The connection's one state (one switch decides what each event means):
///   head     reading a request head (header deadline running once its first byte arrived)
///   body     reading the body the head announced (body deadline: the longest stall)
///   handler  the handler has the request; nothing more is read until it answers (handler
///            deadline: 504 and close past it)
///   stream   the response's head is out and its body is being produced piece by piece, each
///            asked for only while the unsent output is below the low-water mark (piece
///            deadline: the handler's; past it the body is cut off and the connection closed)
///   closing  a last response is being written; then close, or linger
///   linger   write side shut after an error; input is read and dropped for a short while so
///            the client sees the response rather than a reset
///   closed   the transport is closed; the worker destroys the object at the end of the loop
///            iteration
///
/// Two timers: the read timer carries the state's deadline (first byte, header, body, idle,
/// handler, linger); the write timer runs only while output is stalled. So a pending write
/// never moves the header deadline, and a slow reader never gets more time to send a head.
///
/// It talks to the network only through its transport, and to the worker only through the
/// loop, the pools and dispatch.
class connection final : public net::io_handler {
public:
    enum class state : std::uint8_t { head, body, handler, stream, closing, linger, closed };

    connection(worker& w, std::unique_ptr<net::transport> t, std::string peer, std::size_t index);
    /// Releases the transport and buffers without telling the worker (the worker is destroying
    /// it).
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Serves what already arrived, then registers with the loop. Never throws: a failure
    /// closes the connection (and gives its place in the cap back, once).
    void start() noexcept;
    void on_io(std::uint32_t events) override;
    /// The handler's answer arrived later (loop thread).
    void on_response(response&& r) noexcept;
    /// The streamed body's next piece arrived later (loop thread).
    void on_piece(stream_piece&& p) noexcept;
    /// The stream yielded its turn (worker::resume_later): go on.
    void resume_stream() noexcept;
    /// Server shutdown: close now when idle, else after the current response.
    void drain() noexcept;
    /// Past the shutdown deadline: close now, whatever is in progress.
    void abort() noexcept { close(); }

    state current() const noexcept { return state_; }
    bool closed() const noexcept { return state_ == state::closed; }
    std::size_t index() const noexcept { return index_; }
    /// Bytes held in the output buffer, sent or not (for tests of its bounds).
    std::size_t output_buffered() const noexcept { return out_.size(); }
    void set_index(std::size_t i) noexcept { index_ = i; }

private:
    enum class deadline : std::uint8_t {
        none,
        first_byte,
        header,
        body,
        idle,
        handler,
        piece,
        linger
    };

    void handle_events(std::uint32_t events);
    void on_readable();
    void process();
    bool read_body_complete(std::string_view& body, std::size_t& total);
    void dispatch(std::string_view body, std::size_t total);
    void finish(response&& r);
    /// The response is complete on the wire (queued): the next request, or closing.
    void end_exchange(bool keep_alive);
    /// Asks the stream for pieces while the output has room and this iteration's budget lasts.
    void pump();
    /// pump(), then what follows when the stream ended (pipelined requests).
    void continue_stream();
    void take_piece(stream_piece&& p);
    std::size_t unsent() const noexcept { return out_.size() - out_pos_; }
    void fail(http::parse_error e);
    void write_response(const response& r, bool head_request, bool keep_alive);
    void flush();
    /// A pooled output buffer when out_ is empty and small (before writing into it).
    void ensure_output();
    void after_flush();
    /// \p abortive: reset (RST) instead of a clean close.
    void close(bool abortive = false) noexcept;
    /// Ends a streamed body that cannot be completed: logged, then closed without its end.
    void cut_stream();
    void arm(deadline d, std::chrono::milliseconds after) noexcept;
    /// A head's first byte is here: its deadline (and the log's clock) start now.
    void head_started() noexcept;
    /// Arms the header deadline, absolute from head_started(); no-op when armed.
    void arm_header() noexcept;
    void on_read_timer();
    void on_write_timer();
    void arm_waiting() noexcept;
    void log_request(int status, std::size_t body_bytes);
    bool backlogged() const noexcept;
    void release_idle_buffers() noexcept;
    void let_go_of_exchange() noexcept;
    /// The access log's start time of a request (read only when the log is on).
    void mark_start() noexcept {
        if (log_on_) {
            started_ = std::chrono::steady_clock::now();
        }
    }
    void fail_safe() noexcept;

    worker& w_;
    std::unique_ptr<net::transport> io_;
    std::string peer_;
    std::size_t index_;
    std::uint64_t serial_; ///< unique per connection of this worker (exchange::peer_of)
    bool log_on_;
    state state_ = state::head;
    deadline deadline_ = deadline::none;
    bool registered_ = false;
    bool readable_ = false;
    bool writable_ = true;
    bool peer_eof_ = false;
    bool peer_shut_ = false; ///< EPOLLRDHUP seen: read until 0 even after a short read
    bool draining_ = false;
    bool linger_after_write_ = false;
    bool nodelay_ = false; ///< TCP_NODELAY set (on the first keep-alive response, as nginx does)
    // The streamed body being sent (state stream).
    bool stream_chunked_ = false;    ///< HTTP/1.1: chunked; else the body ends with the connection
    bool stream_keep_alive_ = false; ///< the connection stays open after the body
    bool awaiting_piece_ = false;    ///< a produce call has not answered yet
    bool resume_queued_ = false;     ///< in the worker's resume list
    int stream_status_ = 0;
    std::size_t streamed_bytes_ = 0; ///< body bytes so far, for the log
    std::size_t stream_budget_ = 0;  ///< bytes it may still produce in this loop iteration
    std::uint64_t budget_turn_ = ~std::uint64_t{0}; ///< the loop iteration the budget is for

    exchange* ex_ = nullptr; ///< the request being read or handled (one reference held)
    http::request_parser parser_;
    http::chunked_decoder chunks_;
    http::message_plan plan_;
    std::size_t head_len_ = 0;
    std::size_t request_len_ = 0;
    std::chrono::steady_clock::time_point started_;

    std::string out_;
    std::size_t out_pos_ = 0;
    std::int64_t last_write_ms_ = 0;  ///< loop time of the last write that moved bytes
    std::int64_t head_start_ms_ = -1; ///< loop time of the current head's first byte; -1: none

    net::timer read_timer_;
    net::timer write_timer_;
};

} // namespace hs::server_detail
