#pragma once
/// \file Helpers over header fields: case-insensitive names and comma-separated token lists.
#include <string_view>

#include "hs/message.hpp"

namespace hs::http {

/// Lowercases ASCII letters only.
constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Removes leading and trailing SP / HTAB (OWS).
std::string_view trim_ows(std::string_view s) noexcept;

/// True when \p name is a field-name: a non-empty token (RFC 9110 §5.1, §5.6.2).
bool valid_field_name(std::string_view name) noexcept;

/// True when \p value is a field-value (RFC 9110 §5.5): VCHAR, obs-text (0x80-0xFF), and SP or
/// HTAB between them, but not first or last. Empty is valid. CR, LF, NUL, the other controls and
/// DEL are not, so a value that passes cannot split a header section.
bool valid_field_value(std::string_view value) noexcept;

/// Calls \p f(element) for each non-empty, OWS-trimmed element of a comma-separated list
/// (RFC 9110 §5.6.1); stops early when \p f returns false. Returns false if \p f did.
template <class F> bool for_each_list_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view elem = trim_ows(list.substr(0, comma));
        if (!elem.empty() && !f(elem)) {
            return false;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return true;
}

} // namespace hs::http
