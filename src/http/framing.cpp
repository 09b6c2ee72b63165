#include "http/framing.hpp"

#include <limits>

#include "http/headers.hpp"

namespace hs::http {
namespace {

bool is_host_char(unsigned char c) noexcept {
    // reg-name / IPv4address / IP-literal, and ":" port (RFC 3986 §3.2.2, RFC 9110 §7.2).
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%':
    case ':':
    case '[':
    case ']':
        return true;
    default:
        return false;
    }
}

bool valid_host(std::string_view v) noexcept {
    for (const char c : v) {
        if (!is_host_char(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

struct transfer_codings {
    bool present = false;
    int chunked = 0;
    bool last_chunked = false;
    bool unknown = false;
};

void add_codings(std::string_view value, transfer_codings& tc) {
    tc.present = true;
    tc.last_chunked = false; // an empty field value leaves no coding last: not chunked
    for_each_list_element(value, [&](std::string_view coding) {
        const bool is_chunked = iequals(coding, "chunked");
        tc.chunked += is_chunked ? 1 : 0;
        tc.unknown = tc.unknown || !is_chunked;
        tc.last_chunked = is_chunked;
        return true;
    });
}

} // namespace

parse_error parse_content_length(std::string_view value, std::uint64_t& out) noexcept {
    constexpr std::uint64_t max = std::numeric_limits<std::int64_t>::max();
    // A list ("5, 5") is what a recipient sees once repeated fields are combined (RFC 9110
    // §8.6): accepted only when every element is the same valid 1*DIGIT number.
    std::size_t start = 0;
    bool any = false;
    for (;;) {
        const std::size_t comma = value.find(',', start);
        const std::string_view e = trim_ows(value.substr(start, comma - start));
        if (e.empty()) {
            return parse_error::bad_content_length;
        }
        std::uint64_t n = 0;
        for (const char c : e) {
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (c < '0' || c > '9' || n > (max - digit) / 10) {
                return parse_error::bad_content_length;
            }
            n = n * 10 + digit;
        }
        if (any && n != out) {
            return parse_error::conflicting_content_length;
        }
        out = n;
        any = true;
        if (comma == std::string_view::npos) {
            return parse_error::none;
        }
        start = comma + 1;
    }
}

framing_result plan_request(const request_head& head, const limits& lim) noexcept {
    framing_result r;
    message_plan& plan = r.plan;
    int hosts = 0;
    bool host_ok = true;
    bool has_length = false;
    std::uint64_t length = 0;
    parse_error length_error = parse_error::none;
    transfer_codings tc;
    bool conn_close = false;
    bool conn_keep_alive = false;
    bool bad_expectation = false;

    for (const header& h : head.fields) {
        switch (ascii_lower(h.name.empty() ? '\0' : h.name[0])) {
        case 'h':
            if (iequals(h.name, "host")) {
                ++hosts;
                host_ok = host_ok && valid_host(h.value);
            }
            break;
        case 'c':
            if (iequals(h.name, "content-length")) {
                std::uint64_t n = 0;
                const parse_error e = parse_content_length(h.value, n);
                if (e != parse_error::none) {
                    length_error = length_error == parse_error::none ? e : length_error;
                } else if (has_length && n != length) {
                    length_error = parse_error::conflicting_content_length;
                } else {
                    has_length = true;
                    length = n;
                }
            } else if (iequals(h.name, "connection")) {
                for_each_list_element(h.value, [&](std::string_view t) {
                    conn_close = conn_close || iequals(t, "close");
                    conn_keep_alive = conn_keep_alive || iequals(t, "keep-alive");
                    return true;
                });
            }
            break;
        case 't':
            if (iequals(h.name, "transfer-encoding")) {
                add_codings(h.value, tc);
            }
            break;
        case 'e':
            if (iequals(h.name, "expect")) {
                for_each_list_element(h.value, [&](std::string_view t) {
                    if (iequals(t, "100-continue")) {
                        plan.expect_continue = true;
                    } else {
                        bad_expectation = true;
                    }
                    return true;
                });
                bad_expectation = bad_expectation || trim_ows(h.value).empty();
            }
            break;
        default:
            break;
        }
    }

    const bool http11 = head.version_minor == 1;
    auto fail = [&r](parse_error e) {
        r.error = e;
        return r;
    };
    if (hosts > 1) {
        return fail(parse_error::repeated_host); // RFC 9112 §3.2
    }
    if (hosts == 0 && http11) {
        return fail(parse_error::missing_host);
    }
    if (!host_ok) {
        return fail(parse_error::bad_host);
    }
    if (tc.present) {
        if (!http11) {
            return fail(parse_error::transfer_encoding_on_http10); // RFC 9112 §6.1
        }
        if (has_length || length_error != parse_error::none) {
            return fail(parse_error::content_length_with_transfer_encoding);
        }
        if (!tc.last_chunked) {
            return fail(parse_error::transfer_encoding_not_chunked); // RFC 9112 §6.3 item 4
        }
        if (tc.chunked > 1) {
            return fail(parse_error::chunked_applied_twice); // RFC 9112 §7
        }
        if (tc.unknown) {
            return fail(parse_error::unknown_transfer_coding); // RFC 9112 §6.1: 501
        }
        plan.body = message_plan::body_kind::chunked;
    } else if (length_error != parse_error::none) {
        return fail(length_error);
    } else if (has_length && length > 0) {
        if (length > lim.max_body_bytes) {
            return fail(parse_error::body_too_large);
        }
        plan.body = message_plan::body_kind::length;
        plan.content_length = length;
    }
    if (bad_expectation) {
        return fail(parse_error::unsupported_expectation); // RFC 9110 §10.1.1
    }
    plan.expect_continue = plan.expect_continue && http11;
    plan.keep_alive = http11 ? !conn_close : (conn_keep_alive && !conn_close);
    return r;
}

} // namespace hs::http
