#pragma once
/// \file The in-memory document store: completes every operation before returning.
#include <deque>
#include <shared_mutex>
#include <utility>

#include "store/document_store.hpp"

namespace hs::store {

/// Thread-safe under any number of worker threads: readers share a lock, writers take it
/// alone. Items sit in a deque indexed by id - 1 (an empty string marks a removed id), so a
/// lookup costs the same at 1k and 1M items, and listing is a walk in id order.
class memory_store final : public document_store {
public:
    void create(std::string members, item_callback done) override;
    void get(std::uint64_t id, item_callback done) override;
    void list(list_callback done) override;
    void replace(std::uint64_t id, std::string members, item_callback done) override;
    void remove(std::uint64_t id, item_callback done) override;

    std::size_t size() const;

private:
    const std::string* find(std::uint64_t id) const noexcept;
    std::string* find(std::uint64_t id) noexcept {
        return const_cast<std::string*>(std::as_const(*this).find(id));
    }

    mutable std::shared_mutex mu_;
    std::deque<std::string> items_;
    std::size_t live_ = 0;
    std::size_t live_bytes_ = 0;
};

} // namespace hs::store
