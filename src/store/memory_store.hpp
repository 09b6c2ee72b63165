#pragma once
/// \file The in-memory document store: completes every operation before returning.
#include <array>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "store/document_store.hpp"

namespace hs::store {

/// Thread-safe under any number of worker threads: readers share a lock, writers take it
/// alone. Items sit in blocks of 1024 consecutive ids (an empty text marks a removed id), so a
/// lookup costs the same at 1k and 1M items and a range read starts at its block. A block whose
/// ids were all created and all removed is freed: a listing skips it in one step, and removed
/// ranges cost 8 bytes per 1024 ids instead of a tombstone per id.
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
    static constexpr std::size_t block_bits = 10;
    static constexpr std::size_t block_size = std::size_t{1} << block_bits;
    struct slot {
        std::string json; ///< empty: no item (never created, or removed)
        std::uint64_t version = 0;
    };
    struct block {
        std::array<slot, block_size> slots;
        std::size_t live = 0;
    };

    const slot* find(std::uint64_t id) const noexcept;
    slot* find(std::uint64_t id) noexcept {
        return const_cast<slot*>(std::as_const(*this).find(id));
    }
    /// Writes \p next into \p s (under the writer lock) and fills \p r.
    void store_version(slot& s, std::uint64_t id, std::string next, item_result& r);

    mutable std::shared_mutex mu_;
    std::vector<std::unique_ptr<block>> blocks_; ///< blocks_[(id-1) >> block_bits]; null: freed
    std::uint64_t next_id_ = 1;
    std::size_t live_ = 0;
    std::string prefix_;
};

} // namespace hs::store
