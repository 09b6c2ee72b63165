#pragma once
/// \file The in-memory document store: completes every operation before returning.
#include <array>
#include <memory>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "store/document_store.hpp"

namespace hs::store {

/// Thread-safe under any number of worker threads: readers share a lock, writers take it
/// alone. Items sit in blocks of 1024 consecutive ids (an empty string marks a removed id), so
/// a lookup costs the same at 1k and 1M items and listing is a walk in id order. A block whose
/// ids were all created and all removed is freed: a listing skips it in one step, and removed
/// ranges cost 8 bytes per 1024 ids instead of a tombstone per id.
class memory_store final : public document_store {
public:
    void create(std::string members, item_callback done) override;
    void get(std::uint64_t id, item_callback done) override;
    void list(list_callback done) override;
    void replace(std::uint64_t id, std::string members, item_callback done) override;
    void remove(std::uint64_t id, item_callback done) override;

    std::size_t size() const;
    /// Blocks still allocated (for tests: removed ranges are given back).
    std::size_t blocks_in_use() const;

private:
    const std::string* find(std::uint64_t id) const noexcept;
    std::string* find(std::uint64_t id) noexcept {
        return const_cast<std::string*>(std::as_const(*this).find(id));
    }

    static constexpr std::size_t block_bits = 10;
    static constexpr std::size_t block_size = std::size_t{1} << block_bits;
    struct block {
        std::array<std::string, block_size> items;
        std::size_t live = 0;
    };

    mutable std::shared_mutex mu_;
    std::vector<std::unique_ptr<block>> blocks_; ///< blocks_[(id-1) >> block_bits]; null: freed
    std::uint64_t next_id_ = 1;
    std::size_t live_ = 0;
    std::size_t live_bytes_ = 0;
};

} // namespace hs::store
