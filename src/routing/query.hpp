#pragma once
/// \file Query strings: `a=1&b=2` split, and `application/x-www-form-urlencoded` decoding.
#include <optional>
#include <string>
#include <string_view>

namespace hs::routing {

/// Percent-decodes \p in into \p out, with '+' as a space (WHATWG urlencoded). Returns false on
/// a '%' not followed by two hex digits ("%zz", "%4").
bool form_decode(std::string_view in, std::string& out);

/// The raw (still encoded) value of the first parameter whose decoded name is \p name. A
/// parameter without '=' has an empty value. nullopt when absent.
std::optional<std::string_view> find_param(std::string_view query, std::string_view name);

} // namespace hs::routing
