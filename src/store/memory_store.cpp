#include "store/memory_store.hpp"

#include <charconv>
#include <mutex>
#include <random>

namespace hs::store {

std::string make_item(std::uint64_t id, std::string_view members) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, id).ptr;
    std::string item;
    item.reserve(8 + static_cast<std::size_t>(end - digits) + members.size());
    item += R"({"id":)";
    item.append(digits, end);
    if (!members.empty()) {
        item += ',';
        item += members;
    }
    item += '}';
    return item;
}

std::string_view item_members(std::string_view item) noexcept {
    // `{"id":N` then `,members}` or `}`.
    const std::size_t comma = item.find(',');
    if (comma == std::string_view::npos || item.size() < 2) {
        return {};
    }
    return item.substr(comma + 1, item.size() - comma - 2);
}

std::string random_etag_prefix() {
    std::random_device rd;
    const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
    static constexpr char hex[] = "0123456789abcdef";
    std::string prefix;
    prefix.reserve(16);
    for (int i = 15; i >= 0; --i) {
        prefix += hex[(r >> (i * 4)) & 0xf];
    }
    return prefix;
}

// A fresh store's versions start at 1 again: the prefix keeps its ETags apart from those of an
// earlier process (API.md: an ETag is never handed out again for other content).
memory_store::memory_store() : prefix_(random_etag_prefix()) {}

void memory_store::create(std::string members, item_callback done) {
    item_result r;
    {
        std::unique_lock lock(mu_);
        r.id = items_.next_id();
        r.version = 1;
        r.json = make_item(r.id, members);
        items_.put(r.id, 1, r.json);
    }
    done(std::move(r));
}

void memory_store::get(std::uint64_t id, item_callback done) {
    item_result r;
    r.id = id;
    {
        std::shared_lock lock(mu_);
        if (const item_table::slot* s = items_.find(id)) {
            r.json = s->json;
            r.version = s->version;
        } else {
            r.what = item_result::status::not_found;
        }
    }
    done(std::move(r));
}

void memory_store::list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                        list_callback done) {
    list_result out;
    {
        std::shared_lock lock(mu_);
        items_.list(after, limit, max_bytes, out);
    }
    done(std::move(out));
}

void memory_store::store_version(item_table::slot& s, std::uint64_t id, std::string next,
                                 item_result& r) {
    r.json = next; // the copy that may throw comes before anything is committed
    r.id = id;
    r.version = s.version + 1;
    s.json = std::move(next);
    s.version = r.version;
}

void memory_store::replace(std::uint64_t id, std::string members, precondition pre,
                           item_callback done) {
    item_result r;
    r.id = id;
    std::string next = make_item(id, members); // built outside the lock
    {
        std::unique_lock lock(mu_);
        if (item_table::slot* s = items_.find(id); s == nullptr) {
            r.what = item_result::status::not_found;
        } else if (!pre.holds(s->version)) {
            r.what = item_result::status::precondition_failed;
            r.version = s->version;
        } else {
            store_version(*s, id, std::move(next), r);
        }
    }
    done(std::move(r));
}

void memory_store::modify(std::uint64_t id, member_edit edit, precondition pre,
                          item_callback done) {
    item_result r;
    r.id = id;
    // Optimistic: the edit (a merge, linear in the item's size) runs outside the lock, on a copy
    // of the version it read; the write commits only if that version is still current, else
    // it starts again from the new one. Every other worker keeps reading and writing meanwhile.
    for (;;) {
        std::string current;
        std::uint64_t seen = 0;
        {
            std::shared_lock lock(mu_);
            const item_table::slot* s = items_.find(id);
            if (s == nullptr) {
                r.what = item_result::status::not_found;
                break;
            }
            if (!pre.holds(s->version)) {
                r.what = item_result::status::precondition_failed;
                r.version = s->version;
                break;
            }
            current = std::string(item_members(s->json));
            seen = s->version;
        }
        std::optional<std::string> members = edit(current);
        if (!members) {
            r.what = item_result::status::edit_refused;
            r.version = seen;
            break;
        }
        std::string next = make_item(id, *members);
        std::unique_lock lock(mu_);
        item_table::slot* s = items_.find(id);
        if (s == nullptr || s->version != seen) {
            continue; // removed or rewritten since: judge the precondition and edit again
        }
        store_version(*s, id, std::move(next), r);
        break;
    }
    done(std::move(r));
}

void memory_store::remove(std::uint64_t id, precondition pre, item_callback done) {
    item_result r;
    r.id = id;
    {
        std::unique_lock lock(mu_);
        if (item_table::slot* s = items_.find(id); s == nullptr) {
            r.what = item_result::status::not_found;
        } else if (!pre.holds(s->version)) {
            r.what = item_result::status::precondition_failed;
            r.version = s->version;
        } else {
            items_.erase(id);
        }
    }
    done(std::move(r));
}

std::size_t memory_store::size() const {
    std::shared_lock lock(mu_);
    return items_.size();
}

std::size_t memory_store::blocks_in_use() const {
    std::shared_lock lock(mu_);
    return items_.blocks_in_use();
}

} // namespace hs::store
