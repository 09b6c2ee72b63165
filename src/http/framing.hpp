#pragma once
/// \file Message framing (RFC 9112 §6) and the other fields that decide how a request is read:
/// Content-Length, Transfer-Encoding, Host, Connection, Expect. The one place that rules on
/// request smuggling.
#include <cstdint>

#include "hs/limits.hpp"
#include "http/parse_error.hpp"
#include "http/request_parser.hpp"

namespace hs::http {

/// How to read the body of a request and what to do after it.
struct message_plan {
    enum class body_kind : std::uint8_t { none, length, chunked };
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0; ///< when body == length
    bool keep_alive = true;           ///< persistence by version and Connection (RFC 9112 §9.3)
    bool expect_continue = false;     ///< client sent `Expect: 100-continue`
};

struct framing_result {
    message_plan plan;
    parse_error error = parse_error::none;
};

/// Decides the framing of \p head or the error that rejects it. Rules (strict):
/// - HTTP/1.1 needs exactly one Host; more than one Host is an error on any version;
/// - Transfer-Encoding: not on HTTP/1.0, not with Content-Length, last coding `chunked`, chunked
///   once only, no other coding (501);
/// - Content-Length: 1*DIGIT, fits in 63 bits; repeats (fields or list) must all be equal;
///   over limits.max_body_bytes is 413 before any body byte is read;
/// - Expect: only `100-continue` (else 417).
framing_result plan_request(const request_head& head, const limits& lim) noexcept;

/// Parses a Content-Length value: 1*DIGIT, or a list of equal 1*DIGIT values.
parse_error parse_content_length(std::string_view value, std::uint64_t& out) noexcept;

} // namespace hs::http
