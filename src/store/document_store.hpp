#pragma once
/// \file The document store's interface (v2): asynchronous by contract, so a durable journal or
/// a networked database can complete later without blocking the caller's event loop. Every
/// store implements it and passes the one conformance suite (tests/unit/store/conformance_test).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hs/unique_function.hpp"

namespace hs::store {

/// One stored item: id, version (1 when created, one more per write) and its JSON text.
struct item {
    std::uint64_t id = 0;
    std::uint64_t version = 0;
    std::string json; ///< `{"id":N,...}`
};

/// Outcome of one operation on one item.
struct item_result {
    enum class status : std::uint8_t {
        ok,
        not_found,
        precondition_failed, ///< the item exists, but the precondition did not hold
        edit_refused,        ///< modify: the edit declined to produce new members
        unavailable,         ///< the store cannot serve now (503)
        storage_full         ///< a write found no room on the disk (507); reads still work
    };
    status what = status::ok;
    std::uint64_t id = 0;
    std::uint64_t version = 0; ///< when ok (the new version for a write; 0 after remove)
    std::string json;          ///< the stored item when ok (empty after remove)
};

/// A page of items in ascending id order.
struct list_result {
    item_result::status what = item_result::status::ok; ///< ok or unavailable
    std::vector<item> items;
    bool more = false; ///< an item with a higher id existed when the page was read
};

/// What must hold of an existing item for a write to happen, checked in the same atomic step
/// as the write (If-Match / If-None-Match, RFC 9110 §13.1). A missing item is not_found first.
struct precondition {
    bool any_version = true;                 ///< no If-Match, or `If-Match: *`
    std::vector<std::uint64_t> versions;     ///< else: the current version must be one of these
    bool fail_if_exists = false;             ///< `If-None-Match: *`
    std::vector<std::uint64_t> not_versions; ///< If-None-Match list: must not be current

    bool holds(std::uint64_t current) const noexcept {
        if (!any_version) {
            bool found = false;
            for (const std::uint64_t v : versions) {
                found = found || v == current;
            }
            if (!found) {
                return false;
            }
        }
        if (fail_if_exists) {
            return false;
        }
        for (const std::uint64_t v : not_versions) {
            if (v == current) {
                return false;
            }
        }
        return true;
    }
};

using item_callback = unique_function<void(item_result)>;
using list_callback = unique_function<void(list_result)>;
/// Maps an item's current members (without `"id"`, minified) to its new members, or declines
/// (nullopt: nothing is written, the result is edit_refused). It may run more than once for one
/// modify (a store may compute it outside its lock and retry when another write came first),
/// so it must not have side effects.
using member_edit = unique_function<std::optional<std::string>(std::string_view current_members)>;

/// id -> JSON object, with a version per item.
///
/// Contract for every implementation:
/// - each operation calls `done` exactly once, on any thread, now or later;
/// - ids start at 1, grow by one per create, and are never reused (not after remove);
/// - versions start at 1 and grow by one per replace or modify of that item;
/// - `members` is the client's object without its braces and without any "id" member, already
///   validated and minified ("" for an empty object); the store puts `"id":N` first;
/// - replace, modify and remove check the precondition and write in one atomic step: of two
///   writers holding the same version, exactly one succeeds;
/// - list(after, limit, max_bytes) yields at most `limit` items with id > after in ascending id
///   order, stopping after the item that reaches `max_bytes` of text, and `more` when an item
///   with a higher id exists; it never holds a lock across pages;
/// - operations are linearizable: once `done` ran for a write, every later read sees it;
/// - every `done` has run before the server that issued the operation is destroyed: a store
///   that completes later must drain its in-flight operations in its own shutdown.
class document_store {
public:
    virtual ~document_store() = default;
    virtual void create(std::string members, item_callback done) = 0;
    virtual void get(std::uint64_t id, item_callback done) = 0;
    /// At most \p limit items after \p after, and no item past the one that brings the page's
    /// text to \p max_bytes or more (a page holds one item at least): a streamed listing's
    /// pieces stay bounded whatever the items' sizes.
    virtual void list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                      list_callback done) = 0;
    /// Replaces an existing item's members; never creates one (not_found).
    virtual void replace(std::uint64_t id, std::string members, precondition pre,
                         item_callback done) = 0;
    /// Rewrites an existing item's members with \p edit (merge patch). The result is written
    /// only if the version the edit saw is still the current one, in the same atomic step as the
    /// precondition check: the edit always sees exactly the version it replaces.
    virtual void modify(std::uint64_t id, member_edit edit, precondition pre,
                        item_callback done) = 0;
    virtual void remove(std::uint64_t id, precondition pre, item_callback done) = 0;
    /// Tells this store's versions apart from any other store's (or an earlier life of this
    /// one) in ETags: a fresh memory store picks a random one.
    virtual std::string_view etag_prefix() const noexcept = 0;
    /// Whether the store can serve now (for a readiness probe; any thread): false while a
    /// database is unreachable, or after a journal's sync failed.
    virtual bool available() const noexcept { return true; }
};

/// Builds the stored text of an item.
std::string make_item(std::uint64_t id, std::string_view members);

/// The members of a stored item's text, without its leading `"id":N` member.
std::string_view item_members(std::string_view item) noexcept;

} // namespace hs::store
