#include "app/merge_patch.hpp"

#include <cstdint>
#include <vector>

namespace hs::app {
namespace {

struct member {
    std::string_view key; ///< as written, with its quotes
    std::string name;     ///< unescaped, for comparison
    std::string value;    ///< as written (or rewritten by a merge)
};

/// The end of the JSON string that starts at s[i] == '"' (one past its closing quote).
std::size_t skip_string(std::string_view s, std::size_t i) noexcept {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return s.size();
}

/// The end of the minified JSON value that starts at s[i].
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size()) {
        return i;
    }
    if (s[i] == '"') {
        return skip_string(s, i);
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = skip_string(s, i);
                continue;
            }
            if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            ++i;
        }
        return i;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') {
        ++i; // number, true, false, null
    }
    return i;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::uint32_t hex4(std::string_view s) noexcept {
    std::uint32_t v = 0;
    for (const char c : s.substr(0, 4)) {
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= static_cast<std::uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= static_cast<std::uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= static_cast<std::uint32_t>(c - 'A' + 10);
        }
    }
    return v;
}

/// The text a (valid) JSON string literal stands for.
std::string unescape(std::string_view quoted) {
    std::string out;
    const std::string_view s = quoted.substr(1, quoted.size() - 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out += s[i];
            continue;
        }
        const char e = s[++i];
        switch (e) {
        case 'b':
            out += '\b';
            break;
        case 'f':
            out += '\f';
            break;
        case 'n':
            out += '\n';
            break;
        case 'r':
            out += '\r';
            break;
        case 't':
            out += '\t';
            break;
        case 'u': {
            std::uint32_t cp = hex4(s.substr(i + 1));
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < s.size() + 1 &&
                s.substr(i + 1, 2) == "\\u") {
                const std::uint32_t low = hex4(s.substr(i + 3));
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
            append_utf8(out, cp);
            break;
        }
        default: // '"', '\\', '/'
            out += e;
        }
    }
    return out;
}

std::vector<member> split(std::string_view members) {
    std::vector<member> out;
    std::size_t i = 0;
    while (i < members.size()) {
        const std::size_t key_end = skip_string(members, i);
        member m;
        m.key = members.substr(i, key_end - i);
        m.name = unescape(m.key);
        const std::size_t value_start = key_end + 1; // past ':'
        const std::size_t value_end = skip_value(members, value_start);
        m.value = std::string(members.substr(value_start, value_end - value_start));
        out.push_back(std::move(m));
        i = value_end + 1; // past ','
    }
    return out;
}

bool is_object(std::string_view value) noexcept {
    return !value.empty() && value.front() == '{';
}

std::string join(const std::vector<member>& ms) {
    std::string out;
    for (const member& m : ms) {
        if (!out.empty()) {
            out += ',';
        }
        out += m.key;
        out += ':';
        out += m.value;
    }
    return out;
}

} // namespace

std::string_view members_of(std::string_view object) noexcept {
    if (object.size() < 2) {
        return {};
    }
    return object.substr(1, object.size() - 2);
}

std::string_view members_without_id(std::string_view item) noexcept {
    std::string_view m = members_of(item);
    if (m.starts_with("\"id\":")) {
        const std::size_t end = skip_value(m, 5);
        m.remove_prefix(end < m.size() ? end + 1 : end);
    }
    return m;
}

std::string merge_patch(std::string_view target_members, std::string_view patch_members) {
    std::vector<member> target = split(target_members);
    for (member& p : split(patch_members)) {
        // The first and the last member of that name (a client may have sent duplicates; RFC
        // 8259 leaves which one counts to the reader, and most take the last).
        std::size_t first = target.size();
        std::size_t last = target.size();
        for (std::size_t i = 0; i < target.size(); ++i) {
            if (target[i].name == p.name) {
                first = first == target.size() ? i : first;
                last = i;
            }
        }
        if (p.value == "null") {
            // Removes the member (every one of that name).
            std::erase_if(target, [&](const member& m) { return m.name == p.name; });
            continue;
        }
        if (is_object(p.value)) {
            const std::string_view base = last != target.size() && is_object(target[last].value)
                                              ? members_of(target[last].value)
                                              : std::string_view{};
            const std::string merged = merge_patch(base, members_of(p.value));
            p.value.clear();
            p.value.reserve(merged.size() + 2);
            p.value.push_back('{');
            p.value.append(merged);
            p.value.push_back('}');
        }
        if (first != target.size()) {
            // One member of that name remains, in the first one's place with its key's
            // spelling, so first-wins and last-wins readers both see the patched value.
            target[first].value = std::move(p.value);
            const std::string name = target[first].name;
            std::size_t i = 0;
            std::erase_if(target, [&](const member& m) { return m.name == name && i++ > 0; });
        } else {
            target.push_back(std::move(p));
        }
    }
    return join(target);
}

} // namespace hs::app
