#pragma once
/// \file Validates a request body as one JSON object and prepares it for the store.
#include <cstddef>
#include <string>
#include <string_view>

namespace hs::app {

struct json_limits {
    std::size_t max_depth = 64; ///< nesting of objects and arrays, the top object counting 1
};

/// Why a body was refused; `detail` is for the problem+json body.
struct json_error {
    enum class kind { none, empty, syntax, not_object, too_deep, duplicate_id } what = kind::none;
    std::string detail;
    explicit operator bool() const noexcept { return what != kind::none; }
};

/// Checks that \p body is exactly one JSON object (RFC 8259, UTF-8, no trailing bytes but
/// whitespace, nesting at most limits.max_depth) and writes its members to \p members without
/// the braces, with insignificant whitespace removed and any top-level "id" member dropped
/// (the server assigns ids). Every value is kept byte for byte as sent: key order, number
/// spelling (big and exotic numbers included), string escapes. More than one top-level member
/// named "id" (however escaped) is refused, since readers disagree on which one wins.
json_error normalize_object(std::string_view body, const json_limits& limits, std::string& members);

} // namespace hs::app
