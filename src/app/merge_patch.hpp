#pragma once
/// \file JSON Merge Patch (RFC 7396) applied to JSON text, keeping untouched values byte for
/// byte (number spelling, escapes, key order).
#include <string>
#include <string_view>

namespace hs::app {

/// Applies \p patch_members to \p target_members and returns the merged members.
///
/// Both are the members of an object without its braces, minified and valid (what
/// normalize_object writes, and what the store keeps after `"id":N,`). RFC 7396 §2: a member
/// whose patch value is `null` is removed; an object value is merged into the target's member
/// of that name when that is an object, and into `{}` otherwise (so nulls inside it vanish);
/// any other value replaces the member. Members keep their place; new ones are appended in the
/// patch's order. Names are compared after unescaping ("\u0061" is "a").
std::string merge_patch(std::string_view target_members, std::string_view patch_members);

/// The members of a minified JSON object's text (`{...}` without the braces).
std::string_view members_of(std::string_view object) noexcept;

/// The stored item's members without its leading `"id":N` member.
std::string_view members_without_id(std::string_view item) noexcept;

} // namespace hs::app
