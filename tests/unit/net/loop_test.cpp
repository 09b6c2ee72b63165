// The event loop on its own: descriptors with handlers, interest changes, removal during an
// iteration, timers with callbacks, posting from other threads, and the mailbox's lifetime.
#include "hs/loop.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hs::net {
namespace {

using namespace std::chrono_literals;

/// Records the events it gets; optionally runs an action on each.
struct recorder final : io_handler {
    std::vector<std::uint32_t> events;
    std::function<void(std::uint32_t)> action;
    void on_io(std::uint32_t ev) override {
        events.push_back(ev);
        if (action) {
            action(ev);
        }
    }
};

struct socket_pair {
    int a = -1;
    int b = -1;
    socket_pair() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        a = sv[0];
        b = sv[1];
    }
    ~socket_pair() {
        ::close(a);
        ::close(b);
    }
    socket_pair(const socket_pair&) = delete;
    socket_pair& operator=(const socket_pair&) = delete;
};

/// Iterates \p l until \p done or \p limit iterations (each waits at most 10 ms).
template <class F> bool run_until(loop& l, F done, int limit = 500) {
    for (int i = 0; i < limit && !done(); ++i) {
        l.run_once(10);
    }
    return done();
}

TEST(loop, delivers_readiness_to_the_registered_handler) {
    loop l;
    socket_pair p;
    recorder r;
    l.add(p.a, EPOLLIN, r);
    ASSERT_EQ(::write(p.b, "x", 1), 1);
    ASSERT_TRUE(run_until(l, [&] { return !r.events.empty(); }));
    EXPECT_NE(r.events.front() & EPOLLIN, 0u);
}

TEST(loop, modify_changes_the_interest) {
    loop l;
    socket_pair p;
    recorder r;
    l.add(p.a, EPOLLIN, r); // nothing to read: silent
    l.run_once(0);
    EXPECT_TRUE(r.events.empty());
    l.modify(p.a, EPOLLOUT, r); // a socket with room is writable at once
    ASSERT_TRUE(run_until(l, [&] { return !r.events.empty(); }));
    EXPECT_NE(r.events.front() & EPOLLOUT, 0u);
    EXPECT_THROW(l.modify(p.b, EPOLLIN, r), std::system_error); // not registered
}

TEST(loop, remove_stops_delivery_even_within_the_same_iteration) {
    loop l;
    socket_pair p1;
    socket_pair p2;
    recorder first;
    recorder second;
    // Whichever handler runs first removes the other: the other's gathered event is dropped.
    first.action = [&](std::uint32_t) { l.remove(p2.a, second); };
    second.action = [&](std::uint32_t) { l.remove(p1.a, first); };
    l.add(p1.a, EPOLLIN | EPOLLET, first); // edge-triggered: one event per write
    l.add(p2.a, EPOLLIN | EPOLLET, second);
    ASSERT_EQ(::write(p1.b, "x", 1), 1);
    ASSERT_EQ(::write(p2.b, "x", 1), 1);
    ASSERT_TRUE(run_until(l, [&] { return first.events.size() + second.events.size() > 0; }));
    l.run_once(0);
    EXPECT_EQ(first.events.size() + second.events.size(), 1u);
}

TEST(loop, forget_drops_gathered_events_of_a_descriptor_about_to_close) {
    loop l;
    socket_pair p1;
    socket_pair p2;
    recorder first;
    recorder second;
    first.action = [&](std::uint32_t) { l.forget(second); };
    second.action = [&](std::uint32_t) { l.forget(first); };
    l.add(p1.a, EPOLLIN | EPOLLET, first);
    l.add(p2.a, EPOLLIN | EPOLLET, second);
    ASSERT_EQ(::write(p1.b, "x", 1), 1);
    ASSERT_EQ(::write(p2.b, "x", 1), 1);
    ASSERT_TRUE(run_until(l, [&] { return first.events.size() + second.events.size() > 0; }));
    EXPECT_EQ(first.events.size() + second.events.size(), 1u);
}

TEST(loop, a_descriptor_epoll_refuses_throws) {
    loop l;
    recorder r;
    char path[] = "/tmp/hs-loop-XXXXXX";
    const int f = ::mkstemp(path);
    ASSERT_GE(f, 0);
    ::unlink(path);
    EXPECT_THROW(l.add(f, EPOLLIN, r), std::system_error); // regular files cannot be polled
    ::close(f);
}

TEST(loop, timers_fire_their_own_callbacks_never_early) {
    loop l;
    const std::int64_t start = monotonic_ms();
    std::int64_t fired_a = 0;
    std::int64_t fired_b = 0;
    timer a([&] { fired_a = monotonic_ms(); });
    timer b([&] { fired_b = monotonic_ms(); });
    l.schedule(a, 250ms);
    l.schedule(b, 50ms);
    EXPECT_TRUE(a.pending());
    ASSERT_TRUE(run_until(l, [&] { return fired_a != 0 && fired_b != 0; }));
    EXPECT_GE(fired_b - start, 50);
    EXPECT_GE(fired_a - start, 250);
    EXPECT_GE(fired_a, fired_b);
    EXPECT_FALSE(a.pending());
}

TEST(loop, cancel_and_destroy_unschedule_and_a_callback_may_reschedule) {
    loop l;
    int fired = 0;
    timer cancelled([&] { ++fired; });
    l.schedule(cancelled, 20ms);
    cancelled.cancel();
    {
        timer destroyed([&] { ++fired; });
        l.schedule(destroyed, 20ms);
    } // destroyed while pending
    int repeats = 0;
    timer again;
    again.set_callback([&] {
        if (++repeats < 3) {
            l.schedule(again, 10ms);
        }
    });
    l.schedule(again, 10ms);
    ASSERT_TRUE(run_until(l, [&] { return repeats == 3; }));
    l.run_once(50);
    EXPECT_EQ(fired, 0);
    EXPECT_EQ(repeats, 3);
}

TEST(loop, a_timer_that_outlives_its_loop_is_safe_to_destroy) {
    auto l = std::make_unique<loop>();
    timer t([] {});
    l->schedule(t, 1h);
    l.reset(); // unlinks t
    EXPECT_FALSE(t.pending());
}

TEST(loop, post_from_other_threads_runs_every_task_on_the_loop_thread) {
    loop l;
    std::atomic<int> ran{0};
    std::atomic<bool> wrong_thread{false};
    std::vector<std::thread> posters;
    for (int t = 0; t < 4; ++t) {
        posters.emplace_back([&] {
            for (int i = 0; i < 250; ++i) {
                EXPECT_TRUE(l.post([&] {
                    if (!l.in_loop_thread() || loop::current() != &l) {
                        wrong_thread = true;
                    }
                    ++ran;
                }));
            }
        });
    }
    EXPECT_FALSE(l.in_loop_thread()); // only inside run_once
    ASSERT_TRUE(run_until(
        l, [&] { return ran == 1000; }, 5000));
    for (auto& p : posters) {
        p.join();
    }
    l.run_once(0);
    EXPECT_EQ(ran, 1000);
    EXPECT_FALSE(wrong_thread);
}

TEST(loop, a_mailbox_outlives_its_loop_and_then_refuses_and_destroys_tasks) {
    auto l = std::make_unique<loop>();
    std::shared_ptr<mailbox> box = l->shared_mailbox();
    auto counter = std::make_shared<int>(0);
    EXPECT_TRUE(box->post([counter] { ++*counter; })); // queued, never run
    EXPECT_EQ(counter.use_count(), 2);
    l.reset(); // destroys the queued task (its capture is released)
    EXPECT_EQ(counter.use_count(), 1);
    EXPECT_FALSE(box->post([counter] { ++*counter; }));
    EXPECT_EQ(counter.use_count(), 1); // the refused task was destroyed too
    EXPECT_EQ(*counter, 0);
    EXPECT_FALSE(box->on_loop_thread());
}

TEST(loop, stop_from_another_thread_ends_run) {
    loop l;
    std::thread stopper([&] { l.post([&] { l.stop(); }); });
    l.run(); // returns once the posted stop ran
    stopper.join();
    SUCCEED();
}

TEST(loop, run_once_is_not_reentrant) {
    loop l;
    bool threw = false;
    timer t([&] {
        try {
            l.run_once(0);
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    l.schedule(t, 1ms);
    ASSERT_TRUE(run_until(l, [&] { return threw; }));
}

TEST(loop, a_throwing_callback_is_contained_and_the_loop_goes_on) {
    loop l;
    int after = 0;
    timer bad([] { throw std::runtime_error("callback failure (expected by the test)"); });
    timer good([&] { ++after; });
    l.schedule(bad, 1ms);
    l.schedule(good, 1ms); // same slot as bad: the wheel must survive the throw
    l.post([] { throw 7; });
    l.post([&] { ++after; });
    ASSERT_TRUE(run_until(l, [&] { return after == 2; }));
}

TEST(loop, deferred_tasks_run_after_the_current_callback_in_the_same_iteration) {
    loop l;
    std::vector<int> order;
    timer t([&] {
        l.defer([&] { order.push_back(2); });
        order.push_back(1);
    });
    l.schedule(t, 1ms);
    ASSERT_TRUE(run_until(l, [&] { return order.size() == 2; }));
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(loop, iteration_counts_and_now_advances) {
    loop l;
    const auto i0 = l.iteration();
    const auto t0 = l.now_ms();
    l.run_once(20);
    EXPECT_EQ(l.iteration(), i0 + 1);
    EXPECT_GE(l.now_ms(), t0);
}

} // namespace
} // namespace hs::net
