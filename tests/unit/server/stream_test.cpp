// Streamed response bodies through the real connection: chunked framing on HTTP/1.1 and
// close-delimited on 1.0, HEAD, pipelining after a stream, backpressure on a client that stops
// reading, the per-iteration budget that lets other connections in, and every way a source can
// end badly (fails, throws, never answers, answers from another thread after the client left).
// Run under TSan too (label concurrency, in server_test).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <poll.h>

#include "e2e/server_process.hpp"
#include "hs/body_stream.hpp"
#include "hs/server.hpp"
#include "support/connection_harness.hpp"

namespace hs::test {
namespace {

using namespace std::chrono_literals;
using state = server_detail::connection::state;

/// What the sources did, shared with the test (sources may outlive a connection).
struct stream_log {
    std::mutex mu;
    std::size_t produce_calls = 0;
    std::size_t produced_bytes = 0;
    std::size_t destroyed = 0;
    std::size_t max_bytes_in_one_iteration = 0;
    std::size_t outside_the_loop = 0; ///< produce calls where loop::current() was not the loop
    std::uint64_t iteration = ~std::uint64_t{0};
    std::size_t bytes_this_iteration = 0;
    std::vector<piece_channel> parked; ///< channels a silent source kept
    std::vector<std::thread> threads;  ///< threads an afar source answered from

    void produced(std::size_t n, const net::loop* l) {
        std::lock_guard lock(mu);
        ++produce_calls;
        produced_bytes += n;
        if (l != nullptr) {
            if (l->iteration() != iteration) {
                iteration = l->iteration();
                bytes_this_iteration = 0;
            }
            bytes_this_iteration += n;
            max_bytes_in_one_iteration = std::max(max_bytes_in_one_iteration, bytes_this_iteration);
        }
    }
    std::size_t calls() {
        std::lock_guard lock(mu);
        return produce_calls;
    }
    ~stream_log() {
        for (std::thread& t : threads) {
            t.join();
        }
    }
};

enum class ending { last, fail, throws, silent, handoff_throws };

/// `pieces` pieces of `size` bytes of one letter each ('a', 'b', ...), then the ending.
class test_source final : public body_source {
public:
    test_source(stream_log& log, const net::loop* l, std::size_t pieces, std::size_t size,
                ending how, bool afar)
        : log_(log), loop_(l), pieces_(pieces), size_(size), how_(how), afar_(afar) {}
    ~test_source() override {
        std::lock_guard lock(log_.mu);
        ++log_.destroyed;
    }

    void produce(piece_channel next) override {
        if (loop_ != nullptr && net::loop::current() != loop_) {
            std::lock_guard lock(log_.mu);
            ++log_.outside_the_loop;
        }
        if (sent_ == pieces_) {
            switch (how_) {
            case ending::last:
                log_.produced(0, loop_);
                return hand(std::move(next), std::string(), true);
            case ending::fail:
                next.fail();
                return;
            case ending::throws:
                throw std::runtime_error("the source broke");
            case ending::silent: {
                std::lock_guard lock(log_.mu);
                log_.parked.push_back(std::move(next));
                return;
            }
            case ending::handoff_throws: {
                {
                    std::lock_guard lock(log_.mu);
                    log_.parked.push_back(std::move(next)); // handed on, then it breaks
                }
                throw std::runtime_error("the source broke after handing its channel on");
            }
            }
        }
        std::string piece(size_, static_cast<char>('a' + sent_ % 26));
        ++sent_;
        log_.produced(piece.size(), afar_ ? nullptr : loop_);
        hand(std::move(next), std::move(piece), false);
    }

private:
    void hand(piece_channel next, std::string piece, bool last) {
        if (!afar_) {
            last ? next.last(std::move(piece)) : next.more(std::move(piece));
            return;
        }
        std::lock_guard lock(log_.mu);
        log_.threads.emplace_back(
            [next = std::move(next), piece = std::move(piece), last]() mutable {
                last ? next.last(std::move(piece)) : next.more(std::move(piece));
            });
    }

    stream_log& log_;
    const net::loop* loop_;
    std::size_t pieces_;
    std::size_t size_;
    ending how_;
    bool afar_;
    std::size_t sent_ = 0;
};

/// GET /stream?n=PIECES&size=BYTES&end=last|fail|throws|silent&afar=1, and GET /.
router stream_routes(stream_log& log) {
    router r;
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "root"); });
    r.add("GET", "/stream", [&log](const request& rq, const path_params&) {
        auto param = [&](std::string_view name, std::string_view fallback) {
            const auto at = rq.query.find(std::string(name) + "=");
            if (at == std::string_view::npos) {
                return std::string(fallback);
            }
            const std::string_view rest = rq.query.substr(at + name.size() + 1);
            return std::string(rest.substr(0, rest.find('&')));
        };
        const std::string end = param("end", "last");
        const ending how = end == "fail"             ? ending::fail
                           : end == "throws"         ? ending::throws
                           : end == "silent"         ? ending::silent
                           : end == "handoff_throws" ? ending::handoff_throws
                                                     : ending::last;
        response res(200, "text/plain", param("first", "<"));
        if (res.body == "big") {
            res.body = std::string(100 * 1024, '<'); // a first piece past the low-water mark
        }
        res.stream = std::make_unique<test_source>(
            log, &rq.worker->loop, std::stoul(param("n", "3")), std::stoul(param("size", "5")), how,
            param("afar", "0") == "1");
        return res;
    });
    return r;
}

/// The body of the chunked response at the start of \p bytes, and how many bytes it took;
/// nullopt while incomplete or when malformed (then \p malformed is set).
std::optional<std::string> dechunk(std::string_view bytes, std::size_t& used, bool& malformed) {
    malformed = false;
    const auto head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
        return std::nullopt;
    }
    std::size_t at = head_end + 4;
    std::string body;
    for (;;) {
        const auto eol = bytes.find("\r\n", at);
        if (eol == std::string_view::npos) {
            return std::nullopt;
        }
        const std::string size_text(bytes.substr(at, eol - at));
        if (size_text.empty() ||
            size_text.find_first_not_of("0123456789abcdef") != std::string::npos) {
            malformed = true;
            return std::nullopt;
        }
        const std::size_t size = std::stoul(size_text, nullptr, 16);
        if (bytes.size() < eol + 2 + size + 2) {
            return std::nullopt;
        }
        if (bytes.substr(eol + 2 + size, 2) != "\r\n") {
            malformed = true;
            return std::nullopt;
        }
        body.append(bytes.substr(eol + 2, size));
        at = eol + 2 + size + 2;
        if (size == 0) {
            used = at;
            return body;
        }
    }
}

std::string expected_body(std::size_t pieces, std::size_t size, std::string first = "<") {
    std::string b = std::move(first);
    for (std::size_t i = 0; i < pieces; ++i) {
        b.append(size, static_cast<char>('a' + i % 26));
    }
    return b;
}

TEST(stream, pieces_go_out_as_chunks_and_the_connection_stays_open_for_the_next_request) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=3&size=5 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::size_t used = 0;
    bool malformed = false;
    std::optional<std::string> body;
    ASSERT_TRUE(h.turn_until([&] {
        body = dechunk(h.received(), used, malformed);
        return body.has_value() && h.received().size() > used &&
               count_responses(h.received().substr(used)) == 1;
    })) << h.received();
    const std::string_view head =
        std::string_view(h.received()).substr(0, h.received().find("\r\n\r\n"));
    EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked"), std::string_view::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string_view::npos) << head;
    EXPECT_EQ(head.find("Connection: close"), std::string_view::npos) << head;
    EXPECT_EQ(*body, expected_body(3, 5));
    EXPECT_NE(h.received().substr(used).find("root"), std::string::npos);
    EXPECT_EQ(h.state(), state::head);
    EXPECT_EQ(log.destroyed, 1u);
}

TEST(stream, an_empty_first_piece_and_empty_pieces_never_end_the_body_early) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=4&size=0 HTTP/1.1\r\nHost: t\r\n\r\n");
    std::size_t used = 0;
    bool malformed = false;
    std::optional<std::string> body;
    ASSERT_TRUE(
        h.turn_until([&] { return (body = dechunk(h.received(), used, malformed)).has_value(); }));
    EXPECT_EQ(*body, "<");
    EXPECT_EQ(used, h.received().size()); // one last chunk, nothing after it
}

TEST(stream, on_http_1_0_the_body_ends_with_the_connection) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=3&size=4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    const std::string& out = h.received();
    const auto head_end = out.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const std::string head = out.substr(0, head_end);
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nConnection: close"), std::string::npos) << head;
    EXPECT_EQ(out.substr(head_end + 4), expected_body(3, 4));
}

TEST(stream, head_gets_the_get_headers_and_the_source_is_never_asked) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] { return h.received().find("root") != std::string::npos; }));
    const std::string& out = h.received();
    const auto head_end = out.find("\r\n\r\n");
    EXPECT_NE(out.substr(0, head_end).find("Transfer-Encoding: chunked"), std::string::npos);
    EXPECT_TRUE(out.substr(head_end + 4).starts_with("HTTP/1.1 200 ")) << out; // no body
    EXPECT_EQ(log.calls(), 0u);
    EXPECT_EQ(log.destroyed, 1u);
}

TEST(stream, a_client_that_stops_reading_stops_the_source_at_the_low_water_mark) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect(16 * 1024));
    constexpr std::size_t pieces = 400;
    constexpr std::size_t size = 8 * 1024; // 3.2 MB in all
    h.send("GET /stream?n=400&size=8192 HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 50; ++i) {
        h.turn(1, 5); // no reading
    }
    // What left the source: the unsent output below the 64 KiB mark, one piece past it, and
    // what the socket buffers hold (a small send buffer here).
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    ::getsockopt(h.client_fd(), SOL_SOCKET, SO_RCVBUF, &sndbuf, &len);
    EXPECT_LT(log.produced_bytes,
              64 * 1024 + size + 4u * static_cast<std::size_t>(sndbuf) + 64 * 1024)
        << "the source ran ahead of a client that reads nothing";
    EXPECT_EQ(h.state(), state::stream);
    std::size_t used = 0;
    bool malformed = false;
    std::optional<std::string> body;
    ASSERT_TRUE(h.turn_until(
        [&] { return (body = dechunk(h.received(), used, malformed)).has_value() || malformed; },
        5000));
    EXPECT_EQ(*body, expected_body(pieces, size));
}

TEST(stream, a_long_stream_yields_the_loop_after_its_budget_each_iteration) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=600&size=4096 HTTP/1.1\r\nHost: t\r\n\r\n");
    std::size_t used = 0;
    bool malformed = false;
    std::optional<std::string> body;
    ASSERT_TRUE(h.turn_until(
        [&] { return (body = dechunk(h.received(), used, malformed)).has_value() || malformed; },
        5000));
    EXPECT_EQ(*body, expected_body(600, 4096));
    // 64 KiB per iteration and connection, plus the one piece that crossed it.
    EXPECT_LE(log.max_bytes_in_one_iteration, 64u * 1024 + 4096);
    EXPECT_GT(log.max_bytes_in_one_iteration, 0u);
    // Resumed pieces are asked for inside the loop's iteration too (caught at once, no post).
    EXPECT_EQ(log.outside_the_loop, 0u);
}

TEST(stream, a_failing_source_cuts_the_body_off_and_closes) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=2&size=3&end=fail HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: "
           "t\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] {
        if (!h.eof()) {
            h.shutdown_write(); // ends the lingering close once the answer is out
        }
        return h.eof();
    }));
    const std::string& out = h.received();
    EXPECT_NE(out.find("3\r\naaa\r\n3\r\nbbb\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("0\r\n\r\n"), std::string::npos) << "a cut-off body must not look whole";
    EXPECT_EQ(out.find("root"), std::string::npos);
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
    EXPECT_EQ(log.destroyed, 1u);
}

TEST(stream, a_source_that_throws_cuts_the_body_off_and_closes) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=1&size=3&end=throws HTTP/1.1\r\nHost: t\r\n\r\n");
    h.shutdown_write();
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    EXPECT_NE(h.received().find("3\r\naaa\r\n"), std::string::npos);
    EXPECT_EQ(h.received().find("0\r\n\r\n"), std::string::npos);
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
}

TEST(stream, a_source_that_never_answers_is_cut_off_at_the_handler_timeout) {
    stream_log log;
    limits lim;
    lim.handler_timeout = 200ms;
    connection_harness h(stream_routes(log), lim);
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=1&size=3&end=silent HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    EXPECT_NE(h.received().find("3\r\naaa\r\n"), std::string::npos);
    EXPECT_EQ(h.received().find("0\r\n\r\n"), std::string::npos);
    h.shutdown_write(); // ends the lingering close
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
    // The source outlives the connection while its channel is out; a late piece is dropped.
    EXPECT_EQ(log.destroyed, 0u);
    ASSERT_EQ(log.parked.size(), 1u);
    log.parked.front().last("late");
    h.turn(2);
    EXPECT_EQ(log.destroyed, 1u);
}

TEST(stream, pieces_from_another_thread_arrive_in_order) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=20&size=100&afar=1 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: "
           "t\r\n\r\n");
    std::size_t used = 0;
    bool malformed = false;
    std::optional<std::string> body;
    ASSERT_TRUE(h.turn_until([&] {
        body = dechunk(h.received(), used, malformed);
        return malformed || (body && h.received().find("root", used) != std::string::npos);
    }));
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, expected_body(20, 100));
}

TEST(stream, a_client_that_leaves_while_a_piece_is_out_is_safe_and_the_source_is_freed) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=1&size=3&end=silent HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] {
        std::lock_guard lock(log.mu);
        return log.parked.size() == 1;
    }));
    ::shutdown(h.client_fd(), SHUT_RDWR);
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
    std::thread late([&] { log.parked.front().more("x"); }); // from another thread, nobody waits
    late.join();
    ASSERT_TRUE(h.turn_until([&] {
        std::lock_guard lock(log.mu);
        return log.destroyed == 1;
    }));
}

TEST(stream, a_stream_on_a_bodiless_status_is_refused_with_500) {
    router r;
    r.add("GET", "/bad", [](const request&, const path_params&) {
        response res;
        res.status = 204;
        struct empty_source final : body_source {
            void produce(piece_channel next) override { next.last(); }
        };
        res.stream = std::make_unique<empty_source>();
        return res;
    });
    connection_harness h(std::move(r));
    ASSERT_TRUE(h.connect());
    h.send("GET /bad HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 1; }));
    EXPECT_EQ(h.received().rfind("HTTP/1.1 500 ", 0), 0u) << h.received();
    EXPECT_NE(h.received().find("a streamed body on status 204"), std::string::npos);
}

TEST(stream, a_slow_but_steady_reader_keeps_the_output_buffer_bounded) {
    // Each write frees less than is unsent: without compaction the buffer would hold the whole
    // body (here 3.2 MB).
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect(8 * 1024));
    h.send("GET /stream?n=400&size=8192 HTTP/1.1\r\nHost: t\r\n\r\n");
    std::size_t max_buffered = 0;
    std::string got;
    char buf[3000];
    for (int i = 0; i < 20000 && got.find("\r\n0\r\n\r\n") == std::string::npos; ++i) {
        h.turn(1, 1);
        const ssize_t n = ::recv(h.client_fd(), buf, sizeof buf, 0);
        if (n > 0) {
            got.append(buf, static_cast<std::size_t>(n));
        }
        const auto& conns = h.worker().connections();
        if (!conns.empty()) {
            max_buffered = std::max(max_buffered, conns.front()->output_buffered());
        }
    }
    std::size_t used = 0;
    bool malformed = false;
    const auto body = dechunk(got, used, malformed);
    ASSERT_TRUE(body) << "incomplete after the turns";
    EXPECT_EQ(*body, expected_body(400, 8192));
    EXPECT_LT(max_buffered, 64u * 1024 + 2 * 8192 + 1024);
}

TEST(stream, a_source_that_throws_after_handing_its_channel_on_lives_until_it_answers) {
    stream_log log;
    connection_harness h(stream_routes(log));
    ASSERT_TRUE(h.connect());
    h.send("GET /stream?n=1&size=3&end=handoff_throws HTTP/1.1\r\nHost: t\r\n\r\n");
    h.shutdown_write();
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
    EXPECT_EQ(h.received().find("0\r\n\r\n"), std::string::npos); // cut off
    EXPECT_EQ(log.destroyed, 0u) << "freed while its channel was still out";
    ASSERT_EQ(log.parked.size(), 1u);
    log.parked.front().more("late"); // the work it handed on answers: dropped, then freed
    h.turn(2);
    EXPECT_EQ(log.destroyed, 1u);
}

server_options one_worker() {
    server_options o;
    o.port = 0;
    o.threads = 1;
    return o;
}

/// One line per request, kept for the test.
class line_sink final : public access_log_sink {
public:
    void submit(std::string&& lines) override {
        std::lock_guard lock(mu_);
        text_ += lines;
    }
    bool flush(std::chrono::steady_clock::time_point) override { return true; }
    std::string text() {
        std::lock_guard lock(mu_);
        return text_;
    }

private:
    std::mutex mu_;
    std::string text_;
};

TEST(stream, every_streamed_request_is_logged_once_however_it_ends) {
    stream_log log;
    line_sink sink;
    {
        connection_harness h(stream_routes(log), {}, &sink);
        ASSERT_TRUE(h.connect(8 * 1024));
        // Complete, then cut off by the source, on one connection.
        h.send("GET /stream?n=2&size=3 HTTP/1.1\r\nHost: t\r\n\r\n"
               "GET /stream?n=1&size=3&end=fail HTTP/1.1\r\nHost: t\r\n\r\n");
        ASSERT_TRUE(h.turn_until([&] {
            if (!h.eof()) {
                h.shutdown_write();
            }
            return h.open_connections() == 0;
        }));
        // A client that leaves mid-body (a long body into a small buffer, never read).
        ASSERT_TRUE(h.connect(8 * 1024));
        h.send("GET /stream?n=400&size=8192 HTTP/1.1\r\nHost: t\r\n\r\n");
        h.turn(20, 1);
        ::shutdown(h.client_fd(), SHUT_RDWR);
        ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
        h.turn(15, 10); // log lines are handed over every 100 ms
    }
    const std::string lines = sink.text();
    std::size_t count = 0;
    for (std::size_t p = lines.find("GET /stream"); p != std::string::npos;
         p = lines.find("GET /stream", p + 1)) {
        ++count;
    }
    EXPECT_EQ(count, 3u) << lines;
    EXPECT_NE(lines.find("\" 200 7 "), std::string::npos) << lines; // "<" + 2 x 3 bytes
}

TEST(stream, a_large_first_piece_on_a_registered_connection_does_not_stall) {
    // The head and a first piece past the low-water mark, on a connection already registered
    // with epoll (its second request) and a real TCP socket: the stream must go on after the
    // write drains without a fresh EPOLLOUT edge.
    stream_log log;
    server s(one_worker(), stream_routes(log));
    s.start();
    client c(s.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send("GET /stream?n=3&size=5&first=big HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r) << "the stream stalled after its first piece";
    EXPECT_EQ(r->body, expected_body(3, 5, std::string(100 * 1024, '<')));
    s.stop();
}

TEST(stream, a_close_delimited_body_that_cannot_finish_ends_with_a_reset) {
    // HTTP/1.0 has no last chunk: a clean FIN would make the cut-off body look whole.
    stream_log log;
    server s(one_worker(), stream_routes(log));
    s.start();
    client c(s.port());
    ASSERT_TRUE(c.send("GET /stream?n=2&size=3&end=fail HTTP/1.0\r\n\r\n"));
    std::string got;
    int last_errno = 0;
    for (;;) {
        pollfd p{c.fd(), POLLIN, 0};
        ASSERT_GT(::poll(&p, 1, 5000), 0) << "no end within 5 s";
        char buf[4096];
        const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n > 0) {
            got.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        last_errno = n < 0 ? errno : 0;
        break;
    }
    EXPECT_EQ(last_errno, ECONNRESET) << "ended with a clean EOF after: " << got;
    s.stop();
}

} // namespace
} // namespace hs::test
