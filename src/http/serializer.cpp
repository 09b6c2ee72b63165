#include "http/serializer.hpp"

#include <charconv>

namespace hs {

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
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
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
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
} // namespace

void serialize_head(std::string& out, const response& r, const response_framing& f,
                    std::string_view date, std::string_view server) {
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::uint64_t>(r.status));
    out += ' ';
    out += reason_phrase(r.status);
    out += "\r\nServer: ";
    out += server;
    out += "\r\nDate: ";
    out += date;
    if (!bodiless_status(r.status)) {
        if (!r.content_type.empty()) {
            out += "\r\nContent-Type: ";
            out += r.content_type;
        }
        out += "\r\nContent-Length: ";
        append_number(out, r.body.size());
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

} // namespace hs::http
