#include "store/item_table.hpp"

namespace hs::store {

const item_table::slot* item_table::find(std::uint64_t id) const noexcept {
    if (id == 0 || id >= next_id_) {
        return nullptr;
    }
    const std::unique_ptr<block>& b = blocks_[block_of(id)];
    if (b == nullptr) {
        return nullptr;
    }
    const slot& s = b->slots[(id - 1) & (block_size - 1)];
    return s.json.empty() ? nullptr : &s;
}

void item_table::reserve_ids(std::uint64_t next) {
    if (next <= next_id_) {
        return;
    }
    const std::size_t old_next = static_cast<std::size_t>(next_id_);
    next_id_ = next;
    blocks_.resize(block_of(next_id_ - 1) + 1);
    // Blocks the new range completes may now be spent (recovery of removed ranges).
    for (std::size_t b = old_next > 1 ? block_of(old_next - 1) : 0; b < blocks_.size(); ++b) {
        release_if_spent(b);
    }
}

void item_table::put(std::uint64_t id, std::uint64_t version, std::string json) {
    if (id >= next_id_) {
        next_id_ = id + 1;
        blocks_.resize(block_of(id) + 1);
    }
    std::unique_ptr<block>& b = blocks_[block_of(id)];
    if (b == nullptr) {
        b = std::make_unique<block>();
    }
    slot& s = b->slots[(id - 1) & (block_size - 1)];
    if (s.json.empty()) {
        ++b->live;
        ++live_;
    }
    s.json = std::move(json);
    s.version = version;
}

bool item_table::erase(std::uint64_t id) noexcept {
    if (id == 0 || id >= next_id_) {
        return false;
    }
    const std::size_t bi = block_of(id);
    block* b = blocks_[bi].get();
    if (b == nullptr) {
        return false;
    }
    slot& s = b->slots[(id - 1) & (block_size - 1)];
    if (s.json.empty()) {
        return false;
    }
    std::string().swap(s.json);
    s.version = 0;
    --b->live;
    --live_;
    release_if_spent(bi);
    return true;
}

void item_table::release_if_spent(std::size_t b) noexcept {
    // Every id of a block handed out and removed: nothing can live there again.
    const bool filled = (static_cast<std::uint64_t>(b) + 1) * block_size < next_id_;
    if (blocks_[b] != nullptr && blocks_[b]->live == 0 && filled) {
        blocks_[b].reset();
    }
}

void item_table::list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                      list_result& out) const {
    std::uint64_t id = after + 1;
    std::size_t bytes = 0;
    while (id < next_id_ && out.items.size() < limit && bytes < max_bytes) {
        const std::size_t b = block_of(id);
        if (blocks_[b] == nullptr || blocks_[b]->live == 0) {
            id = (static_cast<std::uint64_t>(b) + 1) * block_size + 1; // next block
            continue;
        }
        const slot& s = blocks_[b]->slots[(id - 1) & (block_size - 1)];
        if (!s.json.empty()) {
            out.items.push_back({id, s.version, s.json});
            bytes += s.json.size();
        }
        ++id;
    }
    // More when any live item lies past the last one returned.
    while (id < next_id_ && !out.more) {
        const std::size_t b = block_of(id);
        if (blocks_[b] == nullptr || blocks_[b]->live == 0) {
            id = (static_cast<std::uint64_t>(b) + 1) * block_size + 1;
            continue;
        }
        out.more = !blocks_[b]->slots[(id - 1) & (block_size - 1)].json.empty();
        ++id;
    }
}

std::size_t item_table::blocks_in_use() const noexcept {
    std::size_t n = 0;
    for (const auto& b : blocks_) {
        n += b != nullptr ? 1 : 0;
    }
    return n;
}

} // namespace hs::store
