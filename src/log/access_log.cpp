#include "hs/access_log.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace hs {
namespace {

/// nginx's escaping of logged variables: '"', '\' and bytes outside 0x20..0x7e as \xHH.
void append_nginx_escaped(std::string& out, std::string_view s) {
    if (s.empty()) {
        out += '-';
        return;
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
}

/// A JSON string; bytes >= 0x80 are written as \u00XX so the line is valid JSON whatever the
/// client sent (header values are not guaranteed to be UTF-8).
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
}

/// Formatting the time is the costly part of a line: cache it per thread, per second.
struct time_cache {
    std::time_t second = -1;
    char local[32] = {}; // "25/Nov/2026:21:49:39 +0000"
    char iso[32] = {};   // "2026-11-25T21:49:39Z"
};

const time_cache& times_for(std::chrono::system_clock::time_point tp) {
    thread_local time_cache cache;
    const std::time_t t = std::chrono::system_clock::to_time_t(tp);
    if (t != cache.second) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::strftime(cache.local, sizeof cache.local, "%d/%b/%Y:%H:%M:%S +0000", &tm);
        std::strftime(cache.iso, sizeof cache.iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cache.second = t;
    }
    return cache;
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

/// Appends \p thousandths as a decimal with three places ("0.002", "12.345").
void append_milli(std::string& out, std::uint64_t thousandths) {
    append_uint(out, thousandths / 1000);
    const auto frac = static_cast<unsigned>(thousandths % 1000);
    const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                            static_cast<char>('0' + frac / 10 % 10),
                            static_cast<char>('0' + frac % 10)};
    out.append(digits, 4);
}

std::string_view protocol(int minor) {
    return minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

} // namespace

void format_access_line(std::string& out, const access_record& r, access_log_format f) {
    const time_cache& t = times_for(r.time);
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(r.duration.count(), 0));
    const bool has_line = r.version_minor >= 0 && !r.method.empty();
    if (f == access_log_format::combined) {
        out += r.peer.empty() ? std::string_view("-") : r.peer;
        out += " - - [";
        out += t.local;
        out += "] \"";
        if (has_line) {
            append_nginx_escaped(out, r.method);
            out += ' ';
            append_nginx_escaped(out, r.target);
            out += ' ';
            out += protocol(r.version_minor);
        } else {
            out += '-';
        }
        out += "\" ";
        append_uint(out, static_cast<std::uint64_t>(r.status));
        out += ' ';
        append_uint(out, r.body_bytes);
        out += " \"";
        append_nginx_escaped(out, r.referer);
        out += "\" \"";
        append_nginx_escaped(out, r.user_agent);
        out += "\" ";
        append_milli(out, (ns + 500'000) / 1'000'000); // seconds, rounded to the millisecond
        out += '\n';
        return;
    }
    out += R"({"time":")";
    out += t.iso;
    out += R"(","remote_addr":)";
    append_json_string(out, r.peer);
    out += R"(,"method":)";
    append_json_string(out, has_line ? r.method : std::string_view{});
    out += R"(,"target":)";
    append_json_string(out, has_line ? r.target : std::string_view{});
    out += R"(,"protocol":)";
    append_json_string(out, has_line ? protocol(r.version_minor) : std::string_view{});
    out += R"(,"status":)";
    append_uint(out, static_cast<std::uint64_t>(r.status));
    out += R"(,"bytes":)";
    append_uint(out, r.body_bytes);
    out += R"(,"duration_ms":)";
    append_milli(out, (ns + 500) / 1000); // milliseconds, rounded to the microsecond
    out += R"(,"referer":)";
    append_json_string(out, r.referer);
    out += R"(,"user_agent":)";
    append_json_string(out, r.user_agent);
    out += "}\n";
}

} // namespace hs
