#pragma once
/// \file Entity tags and the conditional request fields of RFC 9110 §8.8.3 and §13.1.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hs/message.hpp"

namespace hs::app {

/// `If-Match` or `If-None-Match` as received: `*`, a list of entity-tags, or absent.
struct tag_list {
    bool present = false;
    bool any = false;       ///< `*`
    bool malformed = false; ///< not `*` / 1#entity-tag (see DECISIONS.md for what follows)
    struct tag {
        bool weak = false;
        std::string_view opaque; ///< between the quotes
    };
    std::vector<tag> tags;
};

/// Both conditional fields a request may carry, read in one pass over its header fields (a
/// list may span several fields of one name, RFC 9110 §5.3).
struct conditions {
    tag_list if_match;
    tag_list if_none_match;
};
conditions read_conditions(const request& rq);

/// The common cases of a read, told apart in one pass without parsing a list: no conditional
/// field at all, or exactly one If-None-Match (and no If-Match) whose value is \p current_tag
/// itself (or its weak form). Anything else needs read_conditions.
enum class quick_read : std::uint8_t { unconditional, not_modified, needs_parsing };
quick_read classify_read(const request& rq, std::string_view current_tag) noexcept;

/// Our strong ETag for an item: `"<prefix>-<version>"` (the prefix tells stores and their
/// lifetimes apart, so a version never names other content of the same id).
std::string make_etag(std::string_view prefix, std::uint64_t version);
/// The same, into a response's inline field (no allocation).
void make_etag(entity_tag& out, std::string_view prefix, std::uint64_t version) noexcept;

/// The version an opaque tag of ours names, if it is one of ours (same prefix).
std::optional<std::uint64_t> version_of(std::string_view opaque, std::string_view prefix) noexcept;

/// True when \p list matches the current \p version: `*` matches anything; \p weak selects the
/// weak comparison (If-None-Match) over the strong one (If-Match: a weak tag never matches).
bool matches(const tag_list& list, std::string_view prefix, std::uint64_t version,
             bool weak) noexcept;

} // namespace hs::app
