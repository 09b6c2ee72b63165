#pragma once
/// \file Incremental, in-place decoder of the chunked transfer coding (RFC 9112 §7.1).
#include <cstddef>
#include <cstdint>
#include <span>

#include "hs/limits.hpp"
#include "http/parse_error.hpp"

namespace hs::http {

/// Decodes a chunked body in the buffer that holds it: the decoded bytes are moved to the front
/// of the region, so no second buffer is needed. Its state survives between calls, and each call
/// goes on where the last one stopped: every byte is looked at once.
///
/// Extensions are validated and ignored; trailer fields are validated as header fields (same
/// count and size limits) and dropped. The decoded size is held to limits.max_body_bytes before
/// the chunk's data is buffered.
class chunked_decoder {
public:
    enum class status { done, need_more, error };

    explicit chunked_decoder(const limits& l) noexcept : limits_(&l) {}
    explicit chunked_decoder(const limits&&) = delete; ///< the limits must outlive the decoder

    /// \p region holds every byte received after the request head, the same prefix each call.
    status decode(std::span<char> region) noexcept;

    std::size_t decoded_size() const noexcept { return out_; } ///< body bytes at region[0, n)
    std::size_t consumed() const noexcept { return in_; }      ///< raw bytes used, once done
    parse_error error() const noexcept { return error_; }
    void reset() noexcept { *this = chunked_decoder(*limits_); }

    /// Drops the raw bytes already decoded (chunk lines, consumed data) by moving the unread
    /// tail down to the decoded bytes. Returns how many bytes were removed from the end of
    /// \p region; the caller shrinks its buffer by as much. Keeps buffering bounded by the
    /// decoded size, whatever the chunk overhead.
    std::size_t compact(std::span<char> region) noexcept;

private:
    enum class state : std::uint8_t {
        size,
        extension,
        size_lf,
        data,
        data_cr,
        data_lf,
        trailer_start,
        trailer_line,
        trailer_lf,
        final_lf,
        done
    };
    status fail(parse_error e) noexcept {
        error_ = e;
        return status::error;
    }
    status on_byte(unsigned char c, std::span<char> region) noexcept;

    const limits* limits_;
    state state_ = state::size;
    std::size_t in_ = 0;  ///< next raw byte to read
    std::size_t out_ = 0; ///< next decoded byte to write
    std::uint64_t chunk_left_ = 0;
    unsigned digits_ = 0;
    bool ext_semicolon_ = false;
    std::size_t ext_bytes_ = 0;
    std::size_t line_start_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::size_t trailer_fields_ = 0;
    parse_error error_ = parse_error::none;
};

} // namespace hs::http
