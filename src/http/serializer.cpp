#include "http/serializer.hpp"

#include <charconv>
#include <string>

#include "http/chars.hpp"
#include "http/headers.hpp"

namespace hs {

// Every status of RFC 9110 §15 but the unused 306 and 418, plus 428, 429 and 431 (RFC 6585) and
// 507 (RFC 4918). The phrases are RFC 9110's (413 "Content Too Large", 422 "Unprocessable
// Content"), which replaced older ones ("Payload Too Large", "Unprocessable Entity").
std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 305:
        return "Use Proxy";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

} // namespace hs

namespace hs::http {
namespace {
void append_number(std::string& out, std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

/// Appends \p s quoted, printable ASCII as is and every other byte as \xHH, at most 64 bytes
/// of it, so a reason can show bytes a client or a log must never see raw.
void append_quoted(std::string& out, std::string_view s) {
    constexpr std::size_t max_shown = 64;
    constexpr char hex[] = "0123456789ABCDEF";
    out += '"';
    for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out += s.size() > max_shown ? "\"..." : "\"";
}

/// Appends why \p value is not a field-value (it must not be one): its first bad byte and
/// where, or its surrounding whitespace.
void append_value_fault(std::string& out, std::string_view value) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (!chars::field_char[c]) {
            out += c == '\r'   ? "has a CR"
                   : c == '\n' ? "has an LF"
                   : c == '\0' ? "has a NUL"
                               : "has a control character";
            out += " at byte ";
            out += std::to_string(i);
            return;
        }
    }
    out += "starts or ends with whitespace";
}

/// Fields serialize_head writes from the response's other members or its framing.
constexpr std::string_view serializer_fields[] = {"Content-Length", "Transfer-Encoding", "Date",
                                                  "Server", "Connection"};
} // namespace

bool well_formed(const response& r, std::string& why, std::string_view known_good_type) {
    why.clear();
    if (r.status < 200 || r.status > 599) {
        why = "status " + std::to_string(r.status) + " is not a final status (200 to 599)";
        return false;
    }
    if (r.stream && bodiless_status(r.status)) {
        why = "a streamed body on status " + std::to_string(r.status) + ", which has no content";
        return false;
    }
    if (r.content_type != known_good_type && !valid_field_value(r.content_type)) {
        why = "content_type is not a field value (RFC 9110 §5.5): it ";
        append_value_fault(why, r.content_type);
        why += ": ";
        append_quoted(why, r.content_type);
        return false;
    }
    for (const auto& [name, value] : r.headers) {
        if (!valid_field_name(name)) {
            why = "header name ";
            append_quoted(why, name);
            why += " is not a token (RFC 9110 §5.1)";
            return false;
        }
        for (const std::string_view own : serializer_fields) {
            if (iequals(name, own)) {
                why = "header " + name + " is written by the server itself; remove it";
                return false;
            }
        }
        if (!r.etag.empty() && iequals(name, "ETag")) {
            why = "header " + name + " repeats etag; set one of them";
            return false;
        }
        if (!r.content_type.empty() && iequals(name, "Content-Type")) {
            why = "header " + name + " repeats content_type; set one of them";
            return false;
        }
        if (!valid_field_value(value)) {
            why = "value of header " + name + " is not a field value (RFC 9110 §5.5): it ";
            append_value_fault(why, value);
            why += ": ";
            append_quoted(why, value);
            return false;
        }
    }
    return true;
}

void serialize_head(std::string& out, const response& r, const response_framing& f,
                    std::string_view date, std::string_view server) {
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::uint64_t>(r.status));
    out += ' ';
    out += reason_phrase(r.status);
    out += "\r\nServer: ";
    out += server;
    if (!date.empty()) { // RFC 9110 §6.6.1: a server without a usable clock sends none
        out += "\r\nDate: ";
        out += date;
    }
    if (!bodiless_status(r.status)) {
        if (!r.content_type.empty()) {
            out += "\r\nContent-Type: ";
            out += r.content_type;
        }
        if (!r.stream) {
            out += "\r\nContent-Length: ";
            append_number(out, r.body.size());
        } else if (f.version_minor >= 1) {
            out += "\r\nTransfer-Encoding: chunked"; // HTTP/1.0: the body ends with the connection
        }
    }
    if (!r.etag.empty()) {
        out += "\r\nETag: ";
        out += r.etag.value();
    }
    for (const auto& [name, value] : r.headers) {
        out += "\r\n";
        out += name;
        out += ": ";
        out += value;
    }
    if (!f.keep_alive) {
        out += "\r\nConnection: close";
    } else if (f.version_minor == 0) {
        out += "\r\nConnection: keep-alive";
    }
    out += "\r\n\r\n";
}

void append_chunk(std::string& out, std::string_view piece) {
    if (piece.empty()) {
        return; // an empty chunk would end the body
    }
    constexpr char hex[] = "0123456789abcdef";
    char digits[16];
    std::size_t n = 0;
    for (std::size_t v = piece.size(); v != 0; v >>= 4) {
        digits[n++] = hex[v & 0xf];
    }
    while (n != 0) {
        out += digits[--n];
    }
    out += "\r\n";
    out += piece;
    out += "\r\n";
}

} // namespace hs::http
