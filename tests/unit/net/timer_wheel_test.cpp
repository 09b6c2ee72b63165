#include "hs/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace hs::net {
namespace {

TEST(timer_wheel, fires_not_before_the_deadline_and_at_most_one_tick_late) {
    timer_wheel w(0, 100, 16);
    timer_wheel::entry a, b;
    w.schedule(a, 250);
    w.schedule(b, 1000);
    std::vector<timer_wheel::entry*> fired;
    auto collect = [&](timer_wheel::entry& e) { fired.push_back(&e); };
    w.advance(249, collect);
    EXPECT_TRUE(fired.empty());
    w.advance(300, collect);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0], &a);
    w.advance(999, collect);
    EXPECT_EQ(fired.size(), 1u);
    w.advance(1000, collect);
    EXPECT_EQ(fired.size(), 2u);
    EXPECT_EQ(w.size(), 0u);
}

TEST(timer_wheel, deadlines_beyond_the_span_wait_for_their_turn) {
    timer_wheel w(0, 100, 8); // span 0.7 s
    timer_wheel::entry e;
    w.schedule(e, 5000);
    int fired = 0;
    for (std::int64_t t = 100; t < 5000; t += 100) {
        w.advance(t, [&](timer_wheel::entry&) { ++fired; });
    }
    EXPECT_EQ(fired, 0);
    w.advance(5000, [&](timer_wheel::entry&) { ++fired; });
    EXPECT_EQ(fired, 1);
}

TEST(timer_wheel, cancel_and_reschedule) {
    timer_wheel w(0, 100, 16);
    timer_wheel::entry e;
    w.schedule(e, 200);
    w.schedule(e, 900); // moves it
    w.cancel(e);
    EXPECT_FALSE(e.linked());
    int fired = 0;
    w.advance(2000, [&](timer_wheel::entry&) { ++fired; });
    EXPECT_EQ(fired, 0);
    EXPECT_EQ(w.next_timeout_ms(2000), -1);
}

TEST(timer_wheel, a_long_pause_expires_everything_due) {
    timer_wheel w(0, 100, 16);
    std::vector<timer_wheel::entry> es(50);
    for (std::size_t i = 0; i < es.size(); ++i) {
        w.schedule(es[i], static_cast<std::int64_t>(i) * 37);
    }
    int fired = 0;
    w.advance(100000, [&](timer_wheel::entry&) { ++fired; });
    EXPECT_EQ(fired, 50);
}

} // namespace
} // namespace hs::net
