#pragma once
/// \file The document store's interface: asynchronous by contract, so a durable journal or a
/// networked database can complete later without blocking the caller's event loop.
#include <cstdint>
#include <string>

#include "hs/unique_function.hpp"

namespace hs::store {

/// Outcome of one operation on one item.
struct item_result {
    enum class status : std::uint8_t { ok, not_found, unavailable };
    status what = status::ok;
    std::uint64_t id = 0;
    std::string json; ///< the stored item, `{"id":N,...}`, when ok
};

using item_callback = unique_function<void(item_result)>;
using list_callback = unique_function<void(std::string json_array)>;

/// id -> JSON object. Items are kept as serialized JSON text, so a read writes stored bytes.
///
/// Contract for every implementation:
/// - each operation calls `done` exactly once, on any thread, now or later;
/// - ids start at 1, grow by one per create, and are never reused (not after remove);
/// - `members` is the client's object without its braces and without any "id" member,
///   already validated and minified ("" for an empty object); the store puts `"id":N` first;
/// - list() yields every item in ascending id order as one JSON array;
/// - operations are linearizable: once `done` ran for a write, every later read sees it;
/// - every `done` has run before the server that issued the operation is destroyed: a store
///   that completes later (journal, database) must drain its in-flight operations in its own
///   shutdown, which the owner runs after hs::server::stop() and before ~server.
class document_store {
public:
    virtual ~document_store() = default;
    virtual void create(std::string members, item_callback done) = 0;
    virtual void get(std::uint64_t id, item_callback done) = 0;
    virtual void list(list_callback done) = 0;
    /// Replaces an existing item; never creates one (not_found).
    virtual void replace(std::uint64_t id, std::string members, item_callback done) = 0;
    virtual void remove(std::uint64_t id, item_callback done) = 0;
};

/// Builds the stored text of an item.
std::string make_item(std::uint64_t id, std::string_view members);

} // namespace hs::store
