#pragma once
/// \file One client connection driven through the layers by an explicit state machine.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/chunked_decoder.hpp"
#include "http/framing.hpp"
#include "http/parse_error.hpp"
#include "http/request_parser.hpp"
#include "net/buffer.hpp"
#include "net/fd.hpp"
#include "net/timer_wheel.hpp"

namespace hs::server_detail {

class worker;
class connection;

/// The memory a connection needs only while it reads a request: pooled by the worker, so an
/// idle keep-alive connection holds no buffer.
struct read_state {
    net::buffer in{4096};
    http::request_head head;
};

struct connection_timer : net::timer_wheel::entry {
    connection* owner = nullptr;
};

/// States (one switch in process()):
///   head    -> reading the request head (header timeout running once a byte arrived)
///   body    -> reading the body announced by the head
///   handler -> the handler has the request; nothing more is read until it answers
///   closing -> a last response is being written; then close (or linger)
///   linger  -> write side shut after an error; unread input is drained for a short while so the
///              client sees the response rather than a reset
class connection {
public:
    connection(worker& w, net::fd sock, std::string peer, std::uint32_t slot);
    ~connection();

    int fd() const noexcept { return sock_.get(); }
    bool closed() const noexcept { return phase_ == phase::closed; }

    void on_events(std::uint32_t events);
    void on_timer();
    /// The handler's answer arrived later (posted by the worker).
    void on_response(response&& r);
    /// Server shutdown: close now when idle, else after the current response.
    void drain();

    connection_timer timer;

private:
    enum class phase : std::uint8_t { head, body, handler, closing, linger, closed };
    enum class deadline : std::uint8_t { none, first_byte, header, body, idle, write, linger };

    void on_readable();
    void process();
    bool read_body_complete(std::string_view& body, std::size_t& total);
    void dispatch(std::string_view body, std::size_t total);
    void finish(response&& r);
    void fail(http::parse_error e);
    void write_response(const response& r, bool head_request, bool keep_alive);
    void flush();
    void after_flush();
    void close() noexcept;
    void arm(deadline d, std::chrono::milliseconds after) noexcept;
    void arm_waiting() noexcept;
    void log_request(int status, std::size_t body_bytes);
    bool backlogged() const noexcept;
    void release_idle_buffers() noexcept;

    worker& w_;
    net::fd sock_;
    std::string peer_;
    std::uint32_t slot_;
    phase phase_ = phase::head;
    deadline deadline_ = deadline::none;
    bool readable_ = false;
    bool writable_ = true;
    bool peer_eof_ = false;
    bool peer_shut_ = false; ///< EPOLLRDHUP seen: read until 0 even after a short read
    bool draining_ = false;
    bool linger_after_write_ = false;
    bool nodelay_ = false; ///< TCP_NODELAY set (on the first keep-alive response, as nginx does)

    std::unique_ptr<read_state> rs_;
    http::request_parser parser_;
    http::chunked_decoder chunks_;
    http::message_plan plan_;
    std::size_t head_len_ = 0;
    std::size_t request_len_ = 0;
    std::chrono::steady_clock::time_point started_;

    std::string out_;
    std::size_t out_pos_ = 0;
};

} // namespace hs::server_detail
