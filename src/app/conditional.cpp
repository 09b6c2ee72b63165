#include "app/conditional.hpp"

#include <algorithm>
#include <charconv>

#include "http/headers.hpp"

namespace hs::app {
namespace {

bool etagc(unsigned char c) noexcept {
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80; // RFC 9110 §8.8.3
}

/// Parses one field value into \p out; false when it is not a valid list.
bool parse_into(std::string_view v, tag_list& out) {
    v = http::trim_ows(v);
    if (v == "*") {
        out.any = true;
        return true;
    }
    bool any_element = false;
    while (!v.empty()) {
        if (v.front() == ',' || v.front() == ' ' || v.front() == '\t') {
            v.remove_prefix(1); // empty list elements and OWS are allowed (RFC 9110 §5.6.1)
            continue;
        }
        tag_list::tag t;
        if (v.starts_with("W/")) {
            t.weak = true;
            v.remove_prefix(2);
        }
        if (v.empty() || v.front() != '"') {
            return false;
        }
        std::size_t i = 1;
        while (i < v.size() && v[i] != '"') {
            if (!etagc(static_cast<unsigned char>(v[i]))) {
                return false;
            }
            ++i;
        }
        if (i >= v.size()) {
            return false; // no closing quote
        }
        t.opaque = v.substr(1, i - 1);
        out.tags.push_back(t);
        any_element = true;
        v.remove_prefix(i + 1);
        v = http::trim_ows(v);
        if (!v.empty() && v.front() != ',') {
            return false;
        }
    }
    return any_element;
}

} // namespace

conditions read_conditions(const request& rq) {
    conditions c;
    for (const header& h : rq.headers) {
        // Cheap filter first: both names start with "If-" and are 8 or 13 bytes long.
        if ((h.name.size() != 8 && h.name.size() != 13) || (h.name[0] | 0x20) != 'i') {
            continue;
        }
        tag_list* into = nullptr;
        if (iequals(h.name, "if-match")) {
            into = &c.if_match;
        } else if (iequals(h.name, "if-none-match")) {
            into = &c.if_none_match;
        } else {
            continue;
        }
        into->present = true;
        if (!parse_into(h.value, *into)) {
            into->malformed = true;
        }
    }
    for (tag_list* l : {&c.if_match, &c.if_none_match}) {
        if (l->any && !l->tags.empty()) {
            l->malformed = true;
        }
    }
    return c;
}

quick_read classify_read(const request& rq, std::string_view current_tag) noexcept {
    std::string_view inm;
    int fields = 0;
    for (const header& h : rq.headers) {
        if ((h.name.size() != 8 && h.name.size() != 13) || (h.name[0] | 0x20) != 'i') {
            continue;
        }
        if (h.name.size() == 8 ? iequals(h.name, "if-match") : iequals(h.name, "if-none-match")) {
            if (h.name.size() == 8 || ++fields > 1) {
                return quick_read::needs_parsing; // If-Match, or a list over several fields
            }
            inm = h.value;
        }
    }
    if (fields == 0) {
        return quick_read::unconditional;
    }
    // Weak comparison (RFC 9110 §13.1.2): our tag or its W/ form, alone, is a match.
    if (inm == current_tag || (inm.size() == current_tag.size() + 2 && inm.starts_with("W/") &&
                               inm.ends_with(current_tag))) {
        return quick_read::not_modified;
    }
    return quick_read::needs_parsing;
}

void make_etag(entity_tag& out, std::string_view prefix, std::uint64_t version) noexcept {
    char buf[entity_tag::max_opaque];
    const std::size_t n = std::min(prefix.size(), sizeof buf - 21);
    prefix.copy(buf, n);
    buf[n] = '-';
    char* end = std::to_chars(buf + n + 1, buf + sizeof buf, version).ptr;
    out.assign(std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

std::string make_etag(std::string_view prefix, std::uint64_t version) {
    entity_tag tag;
    make_etag(tag, prefix, version);
    return std::string(tag.value());
}

std::optional<std::uint64_t> version_of(std::string_view opaque, std::string_view prefix) noexcept {
    if (opaque.size() <= prefix.size() + 1 || !opaque.starts_with(prefix) ||
        opaque[prefix.size()] != '-') {
        return std::nullopt;
    }
    const std::string_view digits = opaque.substr(prefix.size() + 1);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits[0] == '0') {
        return std::nullopt;
    }
    return v;
}

bool matches(const tag_list& list, std::string_view prefix, std::uint64_t version,
             bool weak) noexcept {
    if (list.any) {
        return true;
    }
    for (const tag_list::tag& t : list.tags) {
        if (t.weak && !weak) {
            continue; // strong comparison: a weak tag never matches (RFC 9110 §8.8.3.2)
        }
        if (version_of(t.opaque, prefix) == version) {
            return true;
        }
    }
    return false;
}

} // namespace hs::app
