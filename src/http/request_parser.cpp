#include "http/request_parser.hpp"

#include <algorithm>
#include <cstring>

#include "http/chars.hpp"
#include "http/headers.hpp"

namespace hs::http {
namespace {

// Room for "METHOD " and " HTTP/1.1" around the target when judging a partial request line.
constexpr std::size_t request_line_slack = 32;

parse_error classify_bad_char(unsigned char c, parse_error otherwise) noexcept {
    if (c == '\0') {
        return parse_error::nul_byte;
    }
    if (c == '\r') {
        return parse_error::bare_cr;
    }
    return otherwise;
}

bool starts_with_scheme(std::string_view t) noexcept {
    // absolute-form (RFC 9112 §3.2.2): we serve http and https targets; anything else is no
    // resource of ours, so it is rejected rather than guessed at.
    auto prefix = [&](std::string_view p) {
        return t.size() >= p.size() && iequals(t.substr(0, p.size()), p);
    };
    return prefix("http://") || prefix("https://");
}

/// True when an http(s) authority, `[userinfo "@"] host [":" port]` (RFC 3986 §3.2), has a
/// non-empty host: the http and https schemes require one, and a recipient must reject a URI
/// without (RFC 9110 §4.2.1, §4.2.2). "http://", "http:///x", "http://:80/" and "http://u@/"
/// have none.
bool has_host(std::string_view authority) noexcept {
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    return !authority.empty() && authority.front() != ':';
}

/// Splits the target into path and query; returns false when its form is not allowed.
bool split_target(std::string_view method, std::string_view target, request_head& out) noexcept {
    std::string_view rest;
    if (target.front() == '/') {
        rest = target;
    } else if (target == "*") {
        if (method != "OPTIONS") { // asterisk-form is for OPTIONS only (RFC 9112 §3.2.4)
            return false;
        }
        out.path = target;
        out.query = {};
        return true;
    } else if (starts_with_scheme(target)) {
        const auto authority = target.find("//") + 2;
        const auto path_start = target.find_first_of("/?", authority);
        if (!has_host(target.substr(authority, path_start - authority))) {
            return false;
        }
        rest =
            path_start == std::string_view::npos ? std::string_view{} : target.substr(path_start);
    } else if (method == "CONNECT") { // authority-form (RFC 9112 §3.2.3)
        out.path = {};
        out.query = {};
        return true;
    } else {
        return false;
    }
    const auto q = rest.find('?');
    out.path = rest.substr(0, q);
    out.query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    if (out.path.empty()) {
        out.path = "/"; // "http://host" and "http://host?x" mean the root (RFC 9112 §3.2.2)
    }
    return true;
}

parse_error parse_request_line(std::string_view line, const limits& lim, request_head& out) {
    std::size_t i = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(line.data());
    while (i < line.size() && chars::tchar[p[i]]) {
        ++i;
    }
    if (i == line.size()) {
        return parse_error::bad_request_line;
    }
    if (p[i] != ' ' || i == 0) {
        const bool method_char = i > 0 && p[i] != '\t' && p[i] != ' ';
        return classify_bad_char(p[i], method_char ? parse_error::bad_method
                                                   : parse_error::bad_request_line);
    }
    out.method = line.substr(0, i);

    const std::size_t target_start = ++i;
    while (i < line.size() && chars::target_char[p[i]]) {
        ++i;
    }
    if (i - target_start > lim.max_target_bytes) {
        return parse_error::target_too_long;
    }
    if (i == line.size() || p[i] != ' ') {
        return i < line.size() ? classify_bad_char(p[i], parse_error::bad_target)
                               : parse_error::bad_request_line;
    }
    if (i == target_start) {
        return parse_error::bad_request_line; // two spaces, or no target
    }
    out.target = line.substr(target_start, i - target_start);

    const std::string_view version = line.substr(i + 1);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        for (const char c : version) {
            if (c == '\0' || c == '\r') {
                return classify_bad_char(static_cast<unsigned char>(c), parse_error::bad_version);
            }
        }
        return parse_error::bad_version;
    }
    if (version[5] != '1' || version[7] > '1') {
        return parse_error::unsupported_version;
    }
    out.version_minor = version[7] - '0';
    if (!split_target(out.method, out.target, out)) {
        return parse_error::bad_target;
    }
    return parse_error::none;
}

} // namespace

parse_error parse_field_line(std::string_view line, header& out) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(line.data());
    const std::size_t n = line.size();
    if (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        return parse_error::obs_fold; // RFC 9112 §5.2
    }
    std::size_t i = 0;
    while (i < n && chars::tchar[p[i]]) {
        ++i;
    }
    if (i == n) {
        return parse_error::bad_field_name; // no colon
    }
    if (p[i] != ':') {
        if (p[i] == ' ' || p[i] == '\t') {
            return parse_error::space_before_colon; // RFC 9112 §5.1: MUST reject with 400
        }
        return classify_bad_char(p[i], parse_error::bad_field_name);
    }
    if (i == 0) {
        return parse_error::bad_field_name;
    }
    out.name = line.substr(0, i);
    for (std::size_t j = i + 1; j < n; ++j) {
        if (!chars::field_char[p[j]]) {
            return classify_bad_char(p[j], parse_error::bad_field_value);
        }
    }
    out.value = trim_ows(line.substr(i + 1));
    return parse_error::none;
}

void request_head::rebase(const char* old_begin, const char* old_end,
                          const char* new_begin) noexcept {
    auto move = [&](std::string_view& v) {
        if (v.data() >= old_begin && v.data() < old_end) {
            v = std::string_view(new_begin + (v.data() - old_begin), v.size());
        }
    };
    move(method);
    move(target);
    move(path); // may be the literal "/" of an absolute-form target: then it is not moved
    move(query);
    for (header& h : fields) {
        move(h.name);
        move(h.value);
    }
}

void request_parser::reset() noexcept {
    scanned_ = 0;
    start_ = 0;
    line_start_ = 0;
    lines_ = 0;
    method_checked_ = 0;
    method_done_ = false;
}

parse_result request_parser::too_large(std::size_t seen) const noexcept {
    // Still inside the request line: the target is what is too long (RFC 9112 §3 -> 414).
    if (lines_ == 0 && seen - start_ > limits_->max_target_bytes) {
        return parse_result::fail(parse_error::target_too_long);
    }
    return parse_result::fail(parse_error::header_too_large);
}

parse_result request_parser::check_request_start(std::string_view in) noexcept {
    // Leading empty lines are skipped (RFC 9112 §2.2); then the method token is validated as its
    // bytes arrive, so a TLS handshake or binary garbage is refused at its first bad byte rather
    // than at the header timeout. Each byte is looked at once. The check stops where the line
    // scan's size errors begin (the limits below), so any split of the input gives one outcome.
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t limit = limits_->max_header_bytes;
    while (!method_done_) {
        if (method_checked_ <= start_ && start_ < in.size() &&
            (p[start_] == '\r' || p[start_] == '\n')) {
            if (p[start_] == '\n') {
                return parse_result::fail(parse_error::bare_lf);
            }
            if (start_ + 1 == in.size()) {
                return parse_result::more();
            }
            if (p[start_ + 1] != '\n') {
                return parse_result::fail(parse_error::bare_cr);
            }
            start_ += 2;
            line_start_ = start_;
            scanned_ = std::max(scanned_, start_);
            method_checked_ = start_;
            continue;
        }
        const std::size_t end =
            std::min({in.size(), limit, start_ + limits_->max_target_bytes + request_line_slack});
        std::size_t i = std::max(method_checked_, start_);
        for (; i < end; ++i) {
            const unsigned char c = p[i];
            if (c == ' ' && i > start_) {
                method_done_ = true;
                break;
            }
            if (!chars::tchar[c]) {
                const bool method_char = i > start_ && c != '\t';
                return parse_result::fail(classify_bad_char(
                    c, method_char ? parse_error::bad_method : parse_error::bad_request_line));
            }
        }
        method_checked_ = i;
        break;
    }
    return parse_result::more();
}

parse_result request_parser::parse(std::string_view in, request_head& out) {
    const std::size_t limit = limits_->max_header_bytes;
    if (const parse_result r = check_request_start(in); r.what == parse_result::kind::error) {
        return r;
    }
    // Size limits are judged where a byte-by-byte reader would give up, so that the outcome never
    // depends on how the input was split: the head may not pass `limit` bytes, and the request
    // line may not pass `first_line_cap` before its LF.
    const std::size_t first_line_cap = start_ + limits_->max_target_bytes + request_line_slack;
    const std::size_t give_up = lines_ == 0 ? std::min(limit, first_line_cap) : limit;
    std::size_t pos = scanned_;
    while (pos < in.size()) {
        const void* hit = std::memchr(in.data() + pos, '\n', in.size() - pos);
        const std::size_t nl =
            hit == nullptr ? in.size()
                           : static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
        const std::size_t cap = lines_ == 0 ? give_up : limit;
        if (nl >= cap && (hit != nullptr || in.size() > cap)) {
            return too_large(cap + 1);
        }
        if (hit == nullptr) {
            scanned_ = in.size();
            return parse_result::more();
        }
        if (nl == 0 || in[nl - 1] != '\r' || nl - 1 < line_start_) {
            return parse_result::fail(parse_error::bare_lf);
        }
        const bool empty_line = nl - 1 == line_start_;
        line_start_ = nl + 1;
        pos = nl + 1;
        if (!empty_line) {
            if (++lines_ > limits_->max_header_fields + 1) {
                return parse_result::fail(parse_error::too_many_fields);
            }
            continue;
        }
        scanned_ = pos;
        parse_result r = parse_head(in.substr(start_, pos - start_), out);
        if (r.what == parse_result::kind::complete) {
            r.consumed = pos;
        }
        return r;
    }
    scanned_ = pos;
    return parse_result::more();
}

parse_result request_parser::parse_head(std::string_view head, request_head& out) const {
    out.fields.clear();
    std::size_t eol = head.find("\r\n");
    if (const parse_error e = parse_request_line(head.substr(0, eol), *limits_, out);
        e != parse_error::none) {
        return parse_result::fail(e);
    }
    std::size_t pos = eol + 2;
    while (pos < head.size()) {
        eol = head.find("\r\n", pos);
        if (eol == pos) {
            break; // the empty line that ends the head
        }
        header h;
        if (const parse_error e = parse_field_line(head.substr(pos, eol - pos), h);
            e != parse_error::none) {
            return parse_result::fail(e);
        }
        if (out.fields.size() == limits_->max_header_fields) {
            return parse_result::fail(parse_error::too_many_fields);
        }
        out.fields.push_back(h);
        pos = eol + 2;
    }
    return {parse_result::kind::complete, 0, parse_error::none};
}

} // namespace hs::http
