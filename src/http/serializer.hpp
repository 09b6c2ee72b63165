#pragma once
/// \file Response -> bytes: status line, Date, Server, Content-Type, Content-Length, Connection;
/// and the check of a response before it is written.
#include <string>
#include <string_view>

#include "hs/message.hpp"

namespace hs::http {

/// How the response is framed for the request that asked for it.
struct response_framing {
    bool head_request = false; ///< HEAD: send the GET headers without the body (RFC 9110 §9.3.2)
    bool keep_alive = true;    ///< false: `Connection: close`
    int version_minor = 1;     ///< 1.0 + keep_alive: `Connection: keep-alive`
};

/// True when \p status never has content: 1xx, 204, 304 (RFC 9110 §6.4.1).
constexpr bool bodiless_status(int status) noexcept {
    return status < 200 || status == 204 || status == 304;
}

/// True when the body must go on the wire after the head.
constexpr bool sends_body(const response& r, const response_framing& f) noexcept {
    return !f.head_request && !bodiless_status(r.status);
}

/// Checks what an embedder's handler put in \p r before it is serialized: the status is a
/// final one (200 to 599), every name in r.headers is a token and every value a field-value
/// (so no CR, LF or NUL can split the response, RFC 9112 §2.2), r.content_type is a field-value,
/// and r.headers holds no field the serializer writes itself (Content-Length,
/// Transfer-Encoding, Date, Server, Connection, and Content-Type when r.content_type is set).
/// On failure returns false and sets \p why to a one-line reason naming the field; the bytes
/// at fault are shown escaped, so \p why is safe to log. On success \p why is cleared.
bool well_formed(const response& r, std::string& why, std::string_view known_good_type = {});

/// Appends the status line and header section of \p r to \p out (no Date when \p date is
/// empty). A streamed response (r.stream set) has no Content-Length: on HTTP/1.1 it says
/// `Transfer-Encoding: chunked`; on HTTP/1.0 its body ends with the connection, so \p f must not
/// keep it alive. The response always says
/// HTTP/1.1, the highest version we support (RFC 9110 §6.2), also to HTTP/1.0 clients.
void serialize_head(std::string& out, const response& r, const response_framing& f,
                    std::string_view date, std::string_view server);

/// Appends \p piece as one chunk of the chunked transfer coding (RFC 9112 §7.1): size in hex,
/// CRLF, data, CRLF. Nothing for an empty piece (a zero-size chunk is the end).
void append_chunk(std::string& out, std::string_view piece);

/// The last chunk with no trailer section: the end of a chunked body.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

} // namespace hs::http
