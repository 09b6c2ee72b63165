#pragma once
/// \file The in-memory document store: completes every operation before returning.
#include <shared_mutex>
#include <string>

#include "store/document_store.hpp"
#include "store/item_table.hpp"

namespace hs::store {

/// Thread-safe under any number of worker threads: readers share a lock, writers take it
/// alone. The items are an item_table (blocks of 1024 ids).
class memory_store final : public document_store {
public:
    memory_store();

    void create(std::string members, item_callback done) override;
    void get(std::uint64_t id, item_callback done) override;
    void list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
              list_callback done) override;
    void replace(std::uint64_t id, std::string members, precondition pre,
                 item_callback done) override;
    void modify(std::uint64_t id, member_edit edit, precondition pre, item_callback done) override;
    void remove(std::uint64_t id, precondition pre, item_callback done) override;
    std::string_view etag_prefix() const noexcept override { return prefix_; }

    std::size_t size() const;
    /// Blocks still allocated (for tests: removed ranges are given back).
    std::size_t blocks_in_use() const;

private:
    /// Writes \p next into \p s (under the writer lock) and fills \p r.
    static void store_version(item_table::slot& s, std::uint64_t id, std::string next,
                              item_result& r);

    mutable std::shared_mutex mu_;
    item_table items_;
    std::string prefix_;
};

/// 16 random hex digits: a fresh store's ETag prefix.
std::string random_etag_prefix();

} // namespace hs::store
