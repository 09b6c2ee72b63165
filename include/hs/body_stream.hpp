#pragma once
/// \file A response body produced piece by piece, when the output has room for it.
///
/// For bodies too large to build whole (a listing of the entire store): the handler answers with
/// a response whose `stream` is set; the engine writes the head, then asks the stream for one
/// piece at a time, only while the connection's unsent output is below its low-water mark, so a
/// client that stops reading pins at most that much memory plus one piece. On HTTP/1.1 the body
/// goes out with the chunked transfer coding (each piece one chunk); on HTTP/1.0 it ends with the
/// connection. A connection streaming a long body yields to the others on its loop between
/// pieces.
#include <cstdint>
#include <string>
#include <utility>

namespace hs {

/// The engine's side of a streamed body (implemented by the server; tests may implement it).
class piece_sink {
public:
    enum class kind : std::uint8_t {
        more,  ///< a piece; ask again for the next
        last,  ///< the final piece: the body is complete
        failed ///< the body cannot be completed
    };
    /// Takes one piece, exactly once per body_source::produce call, from any thread.
    virtual void put(std::string&& piece, kind k) noexcept = 0;

protected:
    ~piece_sink() = default;
};

/// The one-shot channel for the next piece of a streamed body. Move-only, like hs::responder:
/// use it now (in produce) or later from any thread; destroyed unused, it fails the body.
///
/// Lifetime: handing a piece over may be the last thing the source does. The engine may destroy
/// the source at once (on whatever thread it is on), so the source must not touch itself after
/// more(), last() or fail().
class piece_channel {
public:
    piece_channel() = default;
    explicit piece_channel(piece_sink* sink) noexcept : sink_(sink) {}
    piece_channel(piece_channel&& o) noexcept : sink_(std::exchange(o.sink_, nullptr)) {}
    piece_channel& operator=(piece_channel&& o) noexcept {
        if (this != &o) {
            fail();
            sink_ = std::exchange(o.sink_, nullptr);
        }
        return *this;
    }
    piece_channel(const piece_channel&) = delete;
    piece_channel& operator=(const piece_channel&) = delete;
    ~piece_channel() { fail(); }

    /// One more piece (may be empty); produce() is called again when the output has room.
    void more(std::string piece) noexcept { put(std::move(piece), piece_sink::kind::more); }
    /// The body's final piece (may be empty).
    void last(std::string piece = {}) noexcept { put(std::move(piece), piece_sink::kind::last); }
    /// The body cannot be completed (the store became unavailable mid-walk): the engine sends
    /// what it has and closes the connection without the body's end, so the client sees a
    /// truncated response, never a complete-looking wrong one (RFC 9112 §6.3, §7.1).
    void fail() noexcept { put({}, piece_sink::kind::failed); }

    /// True until a piece has been handed over or the channel moved from.
    bool pending() const noexcept { return sink_ != nullptr; }

private:
    void put(std::string&& piece, piece_sink::kind k) noexcept {
        if (sink_ != nullptr) {
            std::exchange(sink_, nullptr)->put(std::move(piece), k);
        }
    }

    piece_sink* sink_ = nullptr;
};

/// Produces a streamed body. Owned by the engine from the moment the response is handed over;
/// destroyed on any thread once no piece is outstanding. Keep the channel in the work that will
/// answer (a store's callback), never in the source itself: the engine frees the source only
/// after the channel has been used, so a source holding its own channel would never be freed
/// once its client left.
class body_source {
public:
    virtual ~body_source() = default;
    /// Asked for the next piece (on the connection's loop thread): answer through \p next exactly
    /// once, now or later, from any thread. Not called again before that answer.
    virtual void produce(piece_channel next) = 0;
};

} // namespace hs
