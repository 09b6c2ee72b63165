// The engine as a library: handlers that answer later, from another thread, as a durable or
// networked store will. Run under TSan (label "concurrency").
#include "hs/server.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "e2e/server_process.hpp"
#include "hs/unique_function.hpp"

namespace hs {
namespace {

using namespace std::chrono_literals;

/// A stand-in for an asynchronous store: completions run on its own thread, later.
class completion_thread {
public:
    completion_thread() : t_([this] { run(); }) {}
    ~completion_thread() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        t_.join();
    }
    void post(std::chrono::milliseconds delay, unique_function<void()> f) {
        {
            std::lock_guard lock(mu_);
            q_.emplace_back(std::chrono::steady_clock::now() + delay, std::move(f));
        }
        cv_.notify_one();
    }

private:
    void run() {
        std::unique_lock lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
            if (q_.empty()) {
                return;
            }
            auto [when, f] = std::move(q_.front());
            q_.pop_front();
            lock.unlock();
            std::this_thread::sleep_until(when); // the store's latency: pacing, nothing waits on it
            f();
            lock.lock();
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, unique_function<void()>>> q_;
    bool stop_ = false;
    std::thread t_;
};

/// Counts completions; a test waits on it for the count it expects instead of sleeping.
class completion_count {
public:
    void add() {
        {
            std::lock_guard lock(mu_);
            ++n_;
        }
        cv_.notify_all();
    }
    /// Waits until at least \p want completions happened, or \p timeout; returns the count.
    int wait_for(int want, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return n_ >= want; });
        return n_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int n_ = 0;
};

TEST(server, answers_delivered_later_from_another_thread) {
    completion_count completed; // outlives the store: a completion may still run in a failing run
    completion_thread store;
    router r;
    r.add("GET", "/later/{n}", handler([&](const request&, const path_params& p, responder res) {
              std::string n(p.get("n")); // copy before going asynchronous: the request's views die
              store.post(20ms, [&completed, n, res = std::move(res)]() mutable {
                  completed.add();
                  res.send(response(200, "text/plain", n));
              });
          }));
    r.add("GET", "/dropped", handler([](const request&, const path_params&, responder) {
              // the responder is destroyed unanswered: the engine must answer 500
          }));
    server_options o;
    o.port = 0;
    o.threads = 2;
    server s(o, std::move(r));
    s.start();

    // Pipelined: the second waits until the first's late answer, and order is kept.
    test::client c(s.port());
    c.send("GET /later/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /later/2 HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto a = c.read_response();
    const auto b = c.read_response();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->body, "1");
    EXPECT_EQ(b->body, "2");

    const auto d = test::request_once(s.port(), "GET /dropped HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 500);

    // Many clients at once, and clients that leave before their answer: late answers for
    // closed connections are dropped, the server keeps serving.
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                test::client k(s.port());
                const std::string n = std::to_string(t * 100 + i);
                k.send("GET /later/" + n + " HTTP/1.1\r\nHost: a\r\n\r\n");
                if (i % 5 == 0) {
                    continue; // gone before the answer
                }
                const auto x = k.read_response();
                ASSERT_TRUE(x);
                EXPECT_EQ(x->body, n);
            }
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    // The answers for the clients that left are still on the completion thread: wait for the
    // count (the bound only ends a failing run), then check nothing more was completed.
    EXPECT_EQ(completed.wait_for(2 + 100, 30s), 2 + 100);
    s.stop();
}

TEST(server, stop_is_idempotent) {
    router r;
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "ok"); });
    server_options o;
    o.port = 0;
    o.threads = 1;
    server s(o, std::move(r));
    s.start();
    EXPECT_TRUE(test::serves(s.port()));
    s.stop();
    EXPECT_FALSE(test::serves_quietly(s.port())); // no longer listening
    s.stop();
}

} // namespace
} // namespace hs
