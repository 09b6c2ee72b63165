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
