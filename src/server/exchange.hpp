#pragma once
/// \file One request in flight: its bytes, its parsed head, and the engine's side of its
/// responder. Pooled by the worker; reference-counted so a late answer never reads freed memory.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "hs/body_stream.hpp"
#include "hs/loop.hpp"
#include "hs/responder.hpp"
#include "hs/router.hpp"
#include "http/request_parser.hpp"
#include "net/buffer.hpp"

namespace hs::server_detail {

class connection;
class worker;

/// One piece of a streamed body on its way to the connection.
struct stream_piece {
    std::string bytes;
    piece_sink::kind kind = piece_sink::kind::more;
};

/// Holders: the connection reading into it (one reference), and the responder of the request
/// being handled or the piece channel of its streamed body (one more, from dispatch until
/// deliver, or from produce until put). The last release recycles it into the
/// worker's pool on the loop thread, or frees it on any other thread, so the memory the handler
/// was given lives exactly as long as either holder needs it.
class exchange final : public response_sink, public piece_sink {
public:
    exchange(worker& home, std::shared_ptr<net::mailbox> box);
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    net::buffer in{4096}; ///< request bytes (the head's and the request's views point here)
    http::request_head head;
    request rq;                 ///< what the handler sees
    path_params params;         ///< the route's captures
    std::string peer;           ///< a copy, so rq.peer outlives the connection
    std::uint64_t peer_of = 0;  ///< serial of the connection whose address `peer` holds
    connection* conn = nullptr; ///< who waits for the answer; loop thread only; null: nobody
    /// The response's streamed body while it is being sent (destroyed on reuse, or with the
    /// exchange once no piece is outstanding).
    std::unique_ptr<body_source> stream;

    /// Dispatch takes a reference for the responder (loop thread).
    void hold() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops one reference (any thread); the last one recycles or frees the exchange.
    void release() noexcept;
    /// True while a responder still holds it (loop thread).
    bool held_by_responder() const noexcept { return refs_.load(std::memory_order_acquire) > 1; }

    /// The responder's answer, from any thread: handled at once on the loop thread, posted to it
    /// otherwise, dropped (and released) when that loop is gone.
    void deliver(response&& r) noexcept override;

    /// The stream's next piece, from any thread: routed like deliver().
    void put(std::string&& piece, kind k) noexcept override;

    /// Resets per-request state before reuse from the pool (loop thread).
    void reset_for_reuse() noexcept;

    /// The answer, on the loop thread, outside any other callback.
    void answer_on_loop(response&& r) noexcept;
    /// The piece, on the loop thread, outside any other callback.
    void answer_on_loop(stream_piece&& p) noexcept;

private:
    std::atomic<std::uint32_t> refs_{1};
    worker& home_; ///< dereferenced only on home's loop thread (then it is alive)
    std::shared_ptr<net::mailbox> box_;
};

} // namespace hs::server_detail
