#pragma once
/// \file The items of a store, by id: the in-memory layout every store of ours keeps (the memory
/// store as its only copy, the durable store as its primary copy). Not thread-safe: the owner
/// holds its lock around every call.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/document_store.hpp"

namespace hs::store {

/// Items sit in blocks of 1024 consecutive ids (an empty text marks a removed id), so a lookup
/// costs the same at 1k and 1M items and a range read starts at its block. A block whose ids
/// were all handed out and all removed is freed: a listing skips it in one step, and removed
/// ranges cost 8 bytes per 1024 ids instead of a tombstone per id.
class item_table {
public:
    struct slot {
        std::string json; ///< empty: no item (never created, or removed)
        std::uint64_t version = 0;
    };

    const slot* find(std::uint64_t id) const noexcept;
    slot* find(std::uint64_t id) noexcept {
        return const_cast<slot*>(std::as_const(*this).find(id));
    }
    /// Stores \p json as item \p id at \p version, created or replaced; ids above next_id()
    /// move it past \p id (recovery puts items back in any id order).
    void put(std::uint64_t id, std::uint64_t version, std::string json);
    /// Removes item \p id; false when there was none.
    bool erase(std::uint64_t id) noexcept;
    /// Fills \p out as document_store::list says.
    void list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
              list_result& out) const;

    /// The id the next create gets: above every id ever handed out.
    std::uint64_t next_id() const noexcept { return next_id_; }
    /// Raises next_id() to at least \p next (ids a snapshot or journal says were handed out).
    void reserve_ids(std::uint64_t next);
    std::size_t size() const noexcept { return live_; }
    std::size_t blocks_in_use() const noexcept;

private:
    static constexpr std::size_t block_bits = 10;
    static constexpr std::size_t block_size = std::size_t{1} << block_bits;
    struct block {
        std::array<slot, block_size> slots;
        std::size_t live = 0;
    };
    static std::size_t block_of(std::uint64_t id) noexcept {
        return static_cast<std::size_t>((id - 1) >> block_bits);
    }
    /// Frees block \p b if it is empty and every id in it has been handed out.
    void release_if_spent(std::size_t b) noexcept;

    std::vector<std::unique_ptr<block>> blocks_; ///< blocks_[(id-1) >> block_bits]; null: freed
    std::uint64_t next_id_ = 1;
    std::size_t live_ = 0;
};

} // namespace hs::store
