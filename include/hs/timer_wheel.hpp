#pragma once
/// \file A hashed timing wheel: O(1) schedule, cancel and per-tick expiry.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hs::net {

/// Deadlines in milliseconds of a monotonic clock, kept to `tick_ms` resolution (they fire at
/// most one tick late, never early). Entries are intrusive: the owner embeds a timer_wheel::entry
/// and gets it back on expiry. A deadline further away than the wheel's span waits in the last
/// slot and is re-filed when that slot comes round.
class timer_wheel {
public:
    struct entry {
        entry* prev = nullptr;
        entry* next = nullptr;
        std::int64_t deadline = 0;
        bool linked() const noexcept { return prev != nullptr; }
    };

    timer_wheel(std::int64_t now_ms, std::int64_t tick_ms = 100, std::size_t slots = 1024);
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    /// (Re)schedules \p e for \p deadline_ms.
    void schedule(entry& e, std::int64_t deadline_ms) noexcept;
    void cancel(entry& e) noexcept;

    /// Expires every entry due at \p now_ms: each is unlinked, then passed to \p on_expire, which
    /// may schedule it again.
    template <class F> void advance(std::int64_t now_ms, F&& on_expire) {
        const std::int64_t now_tick = now_ms / tick_ms_;
        const std::int64_t base = current_tick_;
        const std::int64_t steps =
            std::min<std::int64_t>(now_tick - base, static_cast<std::int64_t>(slots_.size()));
        current_tick_ = now_tick; // entries re-filed below go after now
        for (std::int64_t i = 1; i <= steps; ++i) {
            entry& head = slots_[static_cast<std::size_t>(base + i) % slots_.size()];
            if (head.next == &head) {
                continue;
            }
            // Detach the whole slot first: entries re-filed below may hash to it again.
            entry pending;
            pending.next = head.next;
            pending.prev = head.prev;
            pending.next->prev = &pending;
            pending.prev->next = &pending;
            head.next = head.prev = &head;
            while (pending.next != &pending) {
                entry& e = *pending.next;
                unlink(e);
                --size_;
                if (e.deadline <= now_ms) {
                    on_expire(e);
                } else {
                    schedule(e, e.deadline);
                }
            }
        }
    }

    /// Unlinks every entry without expiring it, passing each to \p on_unlink.
    template <class F> void clear(F&& on_unlink) {
        for (entry& head : slots_) {
            while (head.next != &head) {
                entry& e = *head.next;
                unlink(e);
                --size_;
                on_unlink(e);
            }
        }
    }

    /// Milliseconds until the next tick worth waking for; -1 when nothing is scheduled.
    int next_timeout_ms(std::int64_t now_ms) const noexcept;
    std::size_t size() const noexcept { return size_; }

private:
    static void unlink(entry& e) noexcept {
        e.prev->next = e.next;
        e.next->prev = e.prev;
        e.prev = e.next = nullptr;
    }

    std::int64_t tick_ms_;
    std::int64_t current_tick_;
    std::vector<entry> slots_; ///< list heads (circular, self-linked when empty)
    std::size_t size_ = 0;
};

} // namespace hs::net
