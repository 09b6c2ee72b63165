#pragma once
/// \file The request the engine hands to a handler and the response a handler gives back.
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hs/body_stream.hpp"

namespace hs {

struct worker_context;

/// One header field. Both views point into the connection's read buffer (see request).
struct header {
    std::string_view name;  ///< as sent; compare case-insensitively
    std::string_view value; ///< leading and trailing whitespace removed (RFC 9112 §5.1)
};

/// ASCII case-insensitive equality, as field names and tokens need (RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// A parsed, framed request with its whole body.
///
/// Lifetime rule: every view points into a per-request buffer that the engine keeps alive, and
/// unchanged, until the handler's responder has sent or been destroyed, even if the connection
/// closes in the meantime (see hs::responder). After that, nothing of it may be touched.
struct request {
    std::string_view method; ///< method token as sent (case-sensitive, RFC 9110 §9.1)
    std::string_view target; ///< request-target as sent
    std::string_view path;   ///< path part of the target, not percent-decoded
    std::string_view query;  ///< after the first '?', without it; empty when absent
    int version_minor = 1;   ///< HTTP/1.<version_minor>; major is always 1
    std::span<const header> headers;
    std::string_view body;            ///< decoded body (chunked coding removed)
    std::string_view peer;            ///< client address, for logs
    worker_context* worker = nullptr; ///< the worker thread this request runs on

    /// The first field named \p name, if any.
    std::optional<std::string_view> header_value(std::string_view name) const noexcept {
        for (const header& h : headers) {
            if (iequals(h.name, name)) {
                return h.value;
            }
        }
        return std::nullopt;
    }
};

/// The value of an ETag field (RFC 9110 §8.8.3), kept inline so that setting one allocates
/// nothing. Checked when it is set, so the engine writes it without a second look.
class entity_tag {
public:
    static constexpr std::size_t max_opaque = 56;

    /// Sets `"opaque"`, or `W/"opaque"` when \p weak. False (and left empty) when \p opaque is
    /// longer than max_opaque or holds a byte RFC 9110's etagc does not allow (`"`, controls,
    /// space, DEL).
    bool assign(std::string_view opaque, bool weak = false) noexcept {
        size_ = 0;
        if (opaque.size() > max_opaque) {
            return false;
        }
        bool ok = true;
        for (const char ch : opaque) {
            const auto c = static_cast<unsigned char>(ch);
            ok &= c == 0x21 || (c >= 0x23 && c != 0x7f); // etagc: %x21 / %x23-7E / obs-text
        }
        if (!ok) {
            return false;
        }
        char* p = text_;
        if (weak) {
            *p++ = 'W';
            *p++ = '/';
        }
        *p++ = '"';
        std::memcpy(p, opaque.data(), opaque.size());
        p += opaque.size();
        *p++ = '"';
        size_ = static_cast<std::uint8_t>(p - text_);
        return true;
    }
    /// The field value as sent (with its quotes); empty when none is set.
    std::string_view value() const noexcept { return {text_, size_}; }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; }

private:
    std::uint8_t size_ = 0;
    char text_[max_opaque + 4]; ///< W/ + two quotes
};

/// A response as a value. The serializer adds Date, Server, Content-Length (or
/// Transfer-Encoding) and Connection.
struct response {
    int status = 200;
    std::string content_type; ///< empty: no Content-Type (and normally no body)
    std::string body;         ///< sent as is; for HEAD only its length is sent
    std::vector<std::pair<std::string, std::string>> headers; ///< extra fields (Location, Allow)
    bool close = false; ///< close the connection after this response
    entity_tag etag;    ///< set: an ETag field (also on 304 and 412)
    /// Set: a streamed body (see hs/body_stream.hpp): `body` is its first piece and the rest comes
    /// from the source; no Content-Length. Only for statuses that have content.
    std::unique_ptr<body_source> stream;

    response() = default;
    response(int s, std::string type, std::string b)
        : status(s), content_type(std::move(type)), body(std::move(b)) {}
};

/// An RFC 9457 problem response: `application/problem+json` with type, title, status, detail.
response problem(int status, std::string_view detail);

/// The reason phrase for \p status ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

} // namespace hs
