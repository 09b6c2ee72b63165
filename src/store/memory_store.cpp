#include "store/memory_store.hpp"

#include <charconv>
#include <mutex>

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

const std::string* memory_store::find(std::uint64_t id) const noexcept {
    if (id == 0 || id >= next_id_) {
        return nullptr;
    }
    const std::size_t b = static_cast<std::size_t>((id - 1) >> block_bits);
    if (blocks_[b] == nullptr) {
        return nullptr;
    }
    const std::string& item = blocks_[b]->items[(id - 1) & (block_size - 1)];
    return item.empty() ? nullptr : &item;
}

void memory_store::create(std::string members, item_callback done) {
    item_result r;
    {
        std::unique_lock lock(mu_);
        r.id = next_id_;
        const std::size_t b = static_cast<std::size_t>((r.id - 1) >> block_bits);
        if (b == blocks_.size()) {
            blocks_.push_back(std::make_unique<block>());
        }
        std::string& slot = blocks_[b]->items[(r.id - 1) & (block_size - 1)];
        slot = make_item(r.id, members);
        ++next_id_;
        ++blocks_[b]->live;
        r.json = slot;
        ++live_;
        live_bytes_ += r.json.size();
    }
    done(std::move(r));
}

void memory_store::get(std::uint64_t id, item_callback done) {
    item_result r;
    r.id = id;
    {
        std::shared_lock lock(mu_);
        if (const std::string* item = std::as_const(*this).find(id)) {
            r.json = *item;
        } else {
            r.what = item_result::status::not_found;
        }
    }
    done(std::move(r));
}

void memory_store::list(list_callback done) {
    std::string out;
    {
        std::shared_lock lock(mu_);
        out.reserve(live_bytes_ + live_ + 2);
        out += '[';
        for (const auto& b : blocks_) {
            if (b == nullptr || b->live == 0) {
                continue;
            }
            for (const std::string& item : b->items) {
                if (!item.empty()) {
                    out += item;
                    out += ',';
                }
            }
        }
        if (out.back() == ',') {
            out.back() = ']';
        } else {
            out += ']';
        }
    }
    done(std::move(out));
}

void memory_store::replace(std::uint64_t id, std::string members, item_callback done) {
    item_result r;
    r.id = id;
    std::string next = make_item(id, members); // built outside the lock
    {
        std::unique_lock lock(mu_);
        if (std::string* item = find(id)) {
            live_bytes_ = live_bytes_ - item->size() + next.size();
            *item = next;
            r.json = std::move(next);
        } else {
            r.what = item_result::status::not_found;
        }
    }
    done(std::move(r));
}

void memory_store::remove(std::uint64_t id, item_callback done) {
    item_result r;
    r.id = id;
    {
        std::unique_lock lock(mu_);
        if (std::string* item = find(id)) {
            live_bytes_ -= item->size();
            std::string().swap(*item);
            --live_;
            const std::size_t b = static_cast<std::size_t>((id - 1) >> block_bits);
            // Every id of a block handed out and removed: nothing can live there again.
            const bool filled = (static_cast<std::uint64_t>(b) + 1) * block_size < next_id_;
            if (--blocks_[b]->live == 0 && filled) {
                blocks_[b].reset();
            }
        } else {
            r.what = item_result::status::not_found;
        }
    }
    done(std::move(r));
}

std::size_t memory_store::size() const {
    std::shared_lock lock(mu_);
    return live_;
}

std::size_t memory_store::blocks_in_use() const {
    std::shared_lock lock(mu_);
    std::size_t n = 0;
    for (const auto& b : blocks_) {
        n += b != nullptr ? 1 : 0;
    }
    return n;
}

} // namespace hs::store
