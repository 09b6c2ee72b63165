#pragma once
/// \file The JSON REST API of API.md: the only code that knows the endpoints.
#include "app/json_object.hpp"
#include "hs/router.hpp"
#include "store/document_store.hpp"

namespace hs::app {

struct api_options {
    json_limits json;
    bool require_if_match = false; ///< PUT, PATCH and DELETE without If-Match get 428
    /// The largest stored item a PATCH may produce (413 past it); the body limit, so that a merge
    /// never makes an item no PUT could have written.
    std::size_t max_item_bytes = 1024 * 1024;
};

/// Adds every endpoint to \p r. The store must outlive the server that uses \p r.
void register_api(router& r, store::document_store& store, const api_options& options);

/// `application/json` or any `type/subtype+json`, parameters allowed (RFC 6839 §3.1).
bool is_json_media_type(std::string_view content_type) noexcept;

/// A canonical decimal id in 1..2^63-1 ("7", not "07" or "+7"); 0 when it is not one.
std::uint64_t parse_id(std::string_view text) noexcept;

} // namespace hs::app
