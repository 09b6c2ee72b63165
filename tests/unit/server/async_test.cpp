// The engine as a library, on the seams an asynchronous store or a transport uses: the request
// outliving its connection, the handler deadline, outstanding answers at stop(), the per-worker
// start hook, a transport factory that fails, and what a handler may not do. Run under TSan too.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "e2e/server_process.hpp"
#include "hs/loop.hpp"
#include "hs/server.hpp"

namespace hs {
namespace {

using namespace std::chrono_literals;

/// A one-shot flag to wait on (events, not sleeps).
class latch {
public:
    void open() {
        std::lock_guard lock(mu_);
        open_ = true;
        cv_.notify_all();
    }
    bool wait(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return open_; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

server_options one_worker() {
    server_options o;
    o.port = 0;
    o.threads = 1;
    return o;
}

const std::string get = " HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(async, the_request_stays_valid_after_its_connection_closed_until_the_answer) {
    // The handler keeps `rq` and `p` by reference (no copy) and answers from another thread
    // after the client has gone: ASan would see a use-after-free if the engine recycled them.
    latch client_gone;
    latch handled;
    latch checked;
    std::string seen;
    std::thread worker_thread;
    router r;
    r.add("POST", "/keep/{name}",
          handler([&](const request& rq, const path_params& p, responder res) {
              worker_thread = std::thread([&, res = std::move(res)]() mutable {
                  client_gone.wait();
                  std::this_thread::yield();
                  seen = std::string(rq.method) + " " + std::string(rq.target) + " " +
                         std::string(p.get("name")) + " " + std::string(rq.body) + " " +
                         std::string(rq.header_value("x-tag").value_or("none"));
                  res.send(response(200, "text/plain", "late"));
                  checked.open();
              });
              handled.open();
          }));
    server s(one_worker(), std::move(r));
    s.start();
    {
        test::client c(s.port());
        ASSERT_TRUE(c.send("POST /keep/bob HTTP/1.1\r\nHost: a\r\nX-Tag: t1\r\n"
                           "Content-Length: 4\r\n\r\nbody"));
        // The server has the request (and the handler the responder) before the client leaves.
        ASSERT_TRUE(handled.wait());
        c.reset();
    }
    // Other requests reuse the worker's buffers meanwhile.
    for (int i = 0; i < 20; ++i) {
        test::client k(s.port());
        k.send("POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nXXXX");
        k.read_response();
    }
    client_gone.open();
    ASSERT_TRUE(checked.wait());
    worker_thread.join();
    EXPECT_EQ(seen, "POST /keep/bob bob body t1");
    s.stop();
}

TEST(async, a_handler_that_never_answers_gets_504_and_its_late_answer_is_dropped) {
    std::mutex mu;
    std::vector<responder> parked;
    router r;
    r.add("GET", "/never", handler([&](const request&, const path_params&, responder res) {
              std::lock_guard lock(mu);
              parked.push_back(std::move(res));
          }));
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "ok"); });
    server_options o = one_worker();
    o.limits.handler_timeout = 300ms;
    server s(o, std::move(r));
    s.start();
    test::client c(s.port());
    ASSERT_TRUE(c.send("GET /never" + get + "GET /" + get));
    const auto first = c.read_response(10s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 504);
    EXPECT_EQ(first->header("connection").value_or(""), "close");
    EXPECT_TRUE(c.closed_by_server(5s)); // the pipelined GET / is not served after a 504
    // The parked responder answers now, from another thread: dropped, nothing breaks.
    std::thread late([&] {
        std::lock_guard lock(mu);
        for (responder& p : parked) {
            p.send(response(200, "text/plain", "too late"));
        }
    });
    late.join();
    EXPECT_TRUE(test::serves(s.port()));
    s.stop();
}

TEST(async, stop_waits_for_an_outstanding_answer_whose_client_left) {
    std::atomic<bool> answered{false};
    latch taken;
    std::thread completer;
    router r;
    r.add("GET", "/slow", handler([&](const request&, const path_params&, responder res) {
              completer = std::thread([&, res = std::move(res)]() mutable {
                  taken.open();
                  std::this_thread::sleep_for(300ms); // the store's latency, not a sync
                  answered = true;
                  res.send(response(200, "text/plain", "done"));
              });
          }));
    server s(one_worker(), std::move(r));
    s.start();
    {
        test::client c(s.port());
        ASSERT_TRUE(c.send("GET /slow" + get));
        ASSERT_TRUE(taken.wait());
    } // the client is gone: no connection waits, but the answer is still outstanding
    s.stop();
    EXPECT_TRUE(answered.load()) << "stop() returned before the outstanding answer came";
    completer.join();
}

TEST(async, a_handler_that_throws_anything_gets_500_and_the_server_serves) {
    router r;
    r.add("GET", "/int", handler([](const request&, const path_params&, responder) { throw 42; }));
    r.add("GET", "/std", handler([](const request&, const path_params&, responder) {
              throw std::runtime_error("x");
          }));
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "ok"); });
    server s(one_worker(), std::move(r));
    s.start();
    for (const char* path : {"/int", "/std"}) {
        const auto res = test::request_once(s.port(), std::string("GET ") + path + get);
        ASSERT_TRUE(res) << path;
        EXPECT_EQ(res->status, 500) << path;
    }
    EXPECT_TRUE(test::serves(s.port()));
    s.stop();
}

TEST(async, a_handler_that_throws_after_handing_its_responder_on_closes_cleanly) {
    std::mutex mu;
    std::vector<responder> parked;
    router r;
    r.add("GET", "/half", handler([&](const request&, const path_params&, responder res) {
              {
                  std::lock_guard lock(mu);
                  parked.push_back(std::move(res));
              }
              throw std::runtime_error("after the hand-off");
          }));
    server s(one_worker(), std::move(r));
    s.start();
    test::client c(s.port());
    ASSERT_TRUE(c.send("GET /half" + get + "GET /half" + get));
    const auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(res->header("connection").value_or(""), "close");
    EXPECT_TRUE(c.closed_by_server(5s));
    {
        std::lock_guard lock(mu);
        for (responder& p : parked) {
            p.send(response(200, "text/plain", "late")); // dropped: its exchange was let go
        }
    }
    // The server still serves (a 404 from the router is an answer).
    const auto after = test::request_once(s.port(), "GET /nothing" + get);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 404);
    s.stop();
}

TEST(async, a_header_that_would_split_the_response_is_refused_with_500) {
    router r;
    r.add("GET", "/split", [](const request&, const path_params&) {
        response res(200, "text/plain", "x");
        res.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: stolen=1");
        return res;
    });
    server s(one_worker(), std::move(r));
    s.start();
    test::client c(s.port());
    ASSERT_TRUE(c.send("GET /split" + get));
    const auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_FALSE(res->header("set-cookie"));
    EXPECT_NE(res->body.find("X-Evil"), std::string::npos) << res->body;
    s.stop();
}

/// Per-worker state a start hook builds: which thread built it, and a timer on its loop.
struct per_worker {
    std::thread::id built_on;
    unsigned index = 0;
    std::atomic<int> ticks{0};
    net::timer tick;
};

TEST(async, the_start_hook_builds_per_worker_state_on_each_worker_thread) {
    std::mutex mu;
    std::set<unsigned> started;
    std::set<unsigned> stopped;
    router r;
    r.add("GET", "/who", [](const request& rq, const path_params&) {
        auto& st = rq.worker->state_as<per_worker>();
        const bool same_thread = st.built_on == std::this_thread::get_id();
        return response(200, "text/plain",
                        std::to_string(st.index) + (same_thread ? " same" : " other") + " " +
                            (st.ticks > 0 ? "ticked" : "not yet"));
    });
    server_options o;
    o.port = 0;
    o.threads = 2;
    o.on_worker_start = [&](worker_context& w) {
        auto st = std::make_shared<per_worker>();
        st->built_on = std::this_thread::get_id();
        st->index = w.index;
        net::loop& l = w.loop;
        per_worker* raw = st.get();
        raw->tick.set_callback([raw, &l] {
            ++raw->ticks;
            l.schedule(raw->tick, 20ms);
        });
        l.schedule(raw->tick, 1ms);
        w.state = st;
        std::lock_guard lock(mu);
        started.insert(w.index);
    };
    o.on_worker_stop = [&](worker_context& w) {
        w.state_as<per_worker>().tick.cancel();
        std::lock_guard lock(mu);
        stopped.insert(w.index);
    };
    server s(o, std::move(r));
    s.start();
    {
        std::lock_guard lock(mu);
        EXPECT_EQ(started, (std::set<unsigned>{0, 1})); // start() waited for every hook
    }
    // Until the timer has ticked on whichever worker answers.
    std::string body;
    for (int i = 0; i < 500 && body.find("ticked") == std::string::npos; ++i) {
        const auto res = test::request_once(s.port(), "GET /who" + get);
        ASSERT_TRUE(res);
        body = res->body;
        std::this_thread::sleep_for(2ms);
    }
    EXPECT_NE(body.find(" same ticked"), std::string::npos) << body;
    s.stop();
    EXPECT_EQ(stopped, (std::set<unsigned>{0, 1}));
}

TEST(async, a_failing_start_hook_fails_start) {
    server_options o;
    o.port = 0;
    o.threads = 2;
    o.on_worker_start = [](worker_context& w) {
        if (w.index == 1) {
            throw std::runtime_error("no database");
        }
    };
    server s(o, router());
    EXPECT_THROW(s.start(), std::runtime_error);
    s.stop(); // still fine
}

TEST(async, limits_that_cannot_work_are_refused_at_start) {
    for (int which = 0; which < 4; ++which) {
        server_options o = one_worker();
        switch (which) {
        case 0:
            o.limits.max_header_bytes = 0;
            break;
        case 1:
            o.limits.max_connections = 0;
            break;
        case 2:
            o.limits.header_timeout = 0ms;
            break;
        case 3:
            o.limits.max_body_bytes = ~std::size_t{0}; // would wrap in sums
            break;
        }
        server s(o, router());
        EXPECT_THROW(s.start(), std::invalid_argument) << which;
    }
}

/// Fault injection on the accept path: the first connections fail in the transport factory,
/// the next ones in registration (a transport whose descriptor epoll refuses), then all work.
class faulty_transports final : public net::transport_factory {
public:
    std::atomic<int> made{0};
    std::unique_ptr<net::transport> wrap(int sock) override {
        const int n = made++;
        if (n < 3) {
            ::close(sock);
            throw std::bad_alloc();
        }
        auto tcp = net::make_tcp_transport(sock);
        if (n < 6) {
            return std::make_unique<unpollable>(std::move(tcp));
        }
        return tcp;
    }

private:
    /// Reads and writes through TCP, but hands the loop a regular file: registering throws.
    class unpollable final : public net::transport {
    public:
        explicit unpollable(std::unique_ptr<net::transport> inner) : inner_(std::move(inner)) {
            char path[] = "/tmp/hs-unpollable-XXXXXX";
            file_ = ::mkstemp(path);
            ::unlink(path);
        }
        ~unpollable() override { ::close(file_); }
        int fd() const noexcept override { return file_; }
        net::io_result read(std::span<char> into) noexcept override { return inner_->read(into); }
        net::io_result write(std::span<const char> from) noexcept override {
            return inner_->write(from);
        }
        void shutdown_write() noexcept override { inner_->shutdown_write(); }
        void set_nodelay() noexcept override { inner_->set_nodelay(); }
        void close() noexcept override { inner_->close(); }
        void reset() noexcept override { inner_->reset(); }

    private:
        std::unique_ptr<net::transport> inner_;
        int file_ = -1;
    };
};

TEST(async, failures_on_the_accept_path_keep_the_connection_count_exact) {
    router r;
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "ok"); });
    server_options o = one_worker();
    o.limits.max_connections = 2;
    auto factory = std::make_shared<faulty_transports>();
    o.transports = factory;
    server s(o, std::move(r));
    s.start();
    for (int i = 0; i < 6; ++i) {
        test::client c(s.port());
        c.send("GET /" + get);  // keep-alive: the connection would be registered after this
        c.read_until_close(5s); // each faulty one is closed (after its answer, or at once)
    }
    ASSERT_GE(factory->made.load(), 6);
    // Exactly two places are free again: two held connections are served, a third is refused.
    test::client a(s.port());
    test::client b(s.port());
    ASSERT_TRUE(a.send("GET /" + get));
    ASSERT_TRUE(b.send("GET /" + get));
    const auto ra = a.read_response();
    const auto rb = b.read_response();
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ(ra->status, 200);
    EXPECT_EQ(rb->status, 200);
    test::client third(s.port());
    third.send("GET /" + get);
    const auto rc = third.read_response();
    ASSERT_TRUE(rc);
    EXPECT_EQ(rc->status, 503);
    s.stop();
}

} // namespace
} // namespace hs
