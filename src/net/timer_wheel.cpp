#include "hs/timer_wheel.hpp"

namespace hs::net {

timer_wheel::timer_wheel(std::int64_t now_ms, std::int64_t tick_ms, std::size_t slots)
    : tick_ms_(tick_ms), current_tick_(now_ms / tick_ms), slots_(slots) {
    for (entry& head : slots_) {
        head.next = head.prev = &head;
    }
}

void timer_wheel::schedule(entry& e, std::int64_t deadline_ms) noexcept {
    if (e.linked()) {
        unlink(e);
        --size_;
    }
    e.deadline = deadline_ms;
    // Round up so an entry never fires before its deadline; clamp into the wheel's span.
    std::int64_t tick = (deadline_ms + tick_ms_ - 1) / tick_ms_;
    const auto span = static_cast<std::int64_t>(slots_.size()) - 1;
    if (tick <= current_tick_) {
        tick = current_tick_ + 1;
    } else if (tick - current_tick_ > span) {
        tick = current_tick_ + span;
    }
    entry& head = slots_[static_cast<std::size_t>(tick) % slots_.size()];
    e.prev = head.prev;
    e.next = &head;
    head.prev->next = &e;
    head.prev = &e;
    ++size_;
}

void timer_wheel::cancel(entry& e) noexcept {
    if (e.linked()) {
        unlink(e);
        --size_;
    }
}

int timer_wheel::next_timeout_ms(std::int64_t now_ms) const noexcept {
    if (size_ == 0) {
        return -1;
    }
    const std::int64_t next = (now_ms / tick_ms_ + 1) * tick_ms_;
    return static_cast<int>(next - now_ms);
}

} // namespace hs::net
