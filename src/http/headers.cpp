#include "http/headers.hpp"

#include <cstdint>
#include <cstring>

#include "http/chars.hpp"

namespace hs {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (http::ascii_lower(a[i]) != http::ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

} // namespace hs

namespace hs::http {

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool valid_field_name(std::string_view name) noexcept {
    if (name.empty()) {
        return false;
    }
    for (const char c : name) {
        if (!chars::tchar[static_cast<unsigned char>(c)]) {
            return false;
        }
    }
    return true;
}

bool valid_field_value(std::string_view value) noexcept {
    // Eight bytes at a time: a word with no control byte (< 0x20) and no DEL needs no closer
    // look (obs-text, >= 0x80, is allowed). A word that has one is checked byte by byte, since
    // HTAB is allowed. This runs on every response a handler makes.
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    std::size_t i = 0;
    for (; i + 8 <= value.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, value.data() + i, 8);
        const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
        const std::uint64_t del = w ^ (ones * 0x7f);
        const std::uint64_t is_del = (del - ones) & ~del & highs;
        if ((below_space | is_del) != 0) {
            for (std::size_t j = i; j < i + 8; ++j) {
                if (!chars::field_char[static_cast<unsigned char>(value[j])]) {
                    return false;
                }
            }
        }
    }
    for (; i < value.size(); ++i) {
        if (!chars::field_char[static_cast<unsigned char>(value[i])]) {
            return false;
        }
    }
    // field-content starts and ends with a field-vchar: no leading or trailing SP / HTAB.
    const auto ows = [](char c) { return c == ' ' || c == '\t'; };
    return value.empty() || (!ows(value.front()) && !ows(value.back()));
}

} // namespace hs::http
