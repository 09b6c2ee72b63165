#pragma once
/// \file Per-worker free lists: exchanges (read buffer + head) and output buffers. Loop thread
/// only.
#include <memory>
#include <string>
#include <vector>

#include "server/exchange.hpp"

namespace hs::server_detail {

/// Keeps at most `max_pooled` of each, and only ordinary-sized ones: one large body must not pin
/// its memory for ever.
class pools {
public:
    static constexpr std::size_t max_pooled = 64;
    static constexpr std::size_t max_pooled_bytes = 64 * 1024;

    pools() = default;
    pools(const pools&) = delete;
    pools& operator=(const pools&) = delete;
    ~pools() {
        for (exchange* e : exchanges_) {
            delete e;
        }
    }

    /// A pooled exchange, or null when the pool is empty.
    exchange* take_exchange() noexcept {
        if (exchanges_.empty()) {
            return nullptr;
        }
        exchange* e = exchanges_.back();
        exchanges_.pop_back();
        return e;
    }
    /// Takes back an exchange nobody references.
    void put_exchange(exchange* e) noexcept {
        if (exchanges_.size() < max_pooled && e->in.capacity() <= max_pooled_bytes) {
            e->in.consume(e->in.size());
            e->reset_for_reuse();
            try {
                exchanges_.push_back(e);
                return;
            } catch (...) {
            }
        }
        delete e;
    }

    static constexpr std::size_t output_reserve = 1024;

    std::string take_output() {
        if (outputs_.empty()) {
            std::string s;
            s.reserve(output_reserve);
            return s;
        }
        std::string s = std::move(outputs_.back());
        outputs_.pop_back();
        return s;
    }
    void put_output(std::string&& s) noexcept {
        // Only buffers that came from take_output (or grew): an empty string handed back (its
        // small inline capacity) would cost three or four reallocations per response later.
        if (s.capacity() >= output_reserve && s.capacity() <= max_pooled_bytes &&
            outputs_.size() < max_pooled) {
            s.clear();
            try {
                outputs_.push_back(std::move(s));
                return;
            } catch (...) {
            }
        }
        std::string().swap(s);
    }

private:
    std::vector<exchange*> exchanges_;
    std::vector<std::string> outputs_;
};

} // namespace hs::server_detail
