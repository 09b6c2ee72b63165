#include "http/headers.hpp"

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
    for (const char c : value) {
        if (!chars::field_char[static_cast<unsigned char>(c)]) {
            return false;
        }
    }
    // field-content starts and ends with a field-vchar: no leading or trailing SP / HTAB.
    return value.empty() || trim_ows(value).size() == value.size();
}

} // namespace hs::http
