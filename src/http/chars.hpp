#pragma once
/// \file Character classes of RFC 9110 §5.6 and RFC 9112, as 256-entry tables.
#include <array>
#include <cstdint>

namespace hs::http::chars {

constexpr bool is_tchar(unsigned char c) noexcept {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/// field-vchar / SP / HTAB (RFC 9110 §5.5): VCHAR, obs-text, space, tab.
constexpr bool is_field_char(unsigned char c) noexcept {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/// Characters allowed in a request-target: visible US-ASCII (RFC 3986 plus what browsers send).
constexpr bool is_target_char(unsigned char c) noexcept {
    return c > 0x20 && c < 0x7f;
}

constexpr int hex_value(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

template <bool (*Pred)(unsigned char)> constexpr std::array<bool, 256> make_table() {
    std::array<bool, 256> t{};
    for (int i = 0; i < 256; ++i) {
        t[static_cast<std::size_t>(i)] = Pred(static_cast<unsigned char>(i));
    }
    return t;
}

inline constexpr auto tchar = make_table<is_tchar>();
inline constexpr auto field_char = make_table<is_field_char>();
inline constexpr auto target_char = make_table<is_target_char>();

} // namespace hs::http::chars
