// The connection's state machine driven over a socketpair by a worker turned on this thread:
// pipelining, splits, late answers, the two timers (header deadline absolute while output
// stalls; write stall), the handler deadline, and a client that leaves mid-request.
#include "server/connection.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "support/connection_harness.hpp"

namespace hs::test {
namespace {

using namespace std::chrono_literals;
using state = server_detail::connection::state;

router test_routes(std::vector<responder>* parked = nullptr) {
    router r;
    r.add("GET", "/",
          [](const request&, const path_params&) { return response(200, "text/plain", "root"); });
    r.add("POST", "/echo", [](const request& rq, const path_params&) {
        return response(200, "text/plain", std::string(rq.body));
    });
    r.add("GET", "/big", [](const request&, const path_params&) {
        return response(200, "text/plain", std::string(1 << 20, 'b'));
    });
    r.add("GET", "/later", handler([](const request& rq, const path_params&, responder res) {
              // Answers on a later loop turn, as a store completing on the loop would.
              rq.worker->loop.post([res = std::move(res)]() mutable {
                  res.send(response(200, "text/plain", "later"));
              });
          }));
    if (parked != nullptr) {
        r.add("GET", "/park", handler([parked](const request&, const path_params&, responder res) {
                  parked->push_back(std::move(res));
              }));
    }
    return r;
}

const std::string get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

TEST(connection, pipelined_requests_are_answered_in_order_in_one_write) {
    connection_harness h(test_routes());
    ASSERT_TRUE(h.connect());
    h.send(get_root + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" +
           "GET /later HTTP/1.1\r\nHost: t\r\n\r\n" + get_root);
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 4; }));
    const std::string& out = h.received();
    const auto root = out.find("root");
    const auto abc = out.find("abc");
    const auto later = out.find("later");
    const auto root2 = out.rfind("root");
    EXPECT_LT(root, abc);
    EXPECT_LT(abc, later);
    EXPECT_LT(later, root2);
    EXPECT_EQ(h.state(), state::head);
}

TEST(connection, a_request_split_at_every_byte_gives_one_response) {
    connection_harness h(test_routes());
    ASSERT_TRUE(h.connect());
    const std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
    for (std::size_t i = 0; i < req.size(); ++i) {
        ASSERT_EQ(h.send(req.substr(i, 1)), 1u);
        h.turn(1);
        h.read_available();
        if (i + 1 < req.size()) {
            ASSERT_EQ(count_responses(h.received()), 0)
                << "after byte " << i << " of " << req.size();
        }
    }
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 1; }));
    EXPECT_NE(h.received().find("\r\n\r\nabcde"), std::string::npos) << h.received();
}

TEST(connection, bad_framing_is_answered_then_the_connection_closes) {
    connection_harness h(test_routes());
    ASSERT_TRUE(h.connect());
    h.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab" +
           get_root);
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    EXPECT_EQ(h.received().rfind("HTTP/1.1 400 ", 0), 0u);
    EXPECT_EQ(count_responses(h.received()), 1); // nothing smuggled out of the bytes
    EXPECT_EQ(h.state(), state::linger);         // the rest of the input is drained a while
    h.shutdown_write();
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
}

TEST(connection, the_header_deadline_holds_while_output_is_stalled) {
    // The client asks for 1 MiB and never reads, then trickles a second head. The stalled write
    // must not push the header deadline back: the head is refused at the header timeout (the
    // old single deadline was replaced by the write deadline, --idle-timeout).
    limits lim;
    lim.header_timeout = 300ms;
    lim.idle_timeout = 30s;
    connection_harness h(test_routes(), lim);
    ASSERT_TRUE(h.connect(4096));
    h.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\n");
    const auto start = std::chrono::steady_clock::now();
    const char more[] = "Host: t\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n";
    std::size_t i = 0;
    while (h.state() == state::head && std::chrono::steady_clock::now() - start < 5s) {
        if (i < sizeof more - 1) {
            h.send(std::string_view(more + i++, 1));
        }
        h.turn(1, 50);
    }
    EXPECT_NE(h.state(), state::head) << "the head was never refused";
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms - 100ms); // not early either
}

TEST(connection, a_client_that_stops_reading_is_closed_at_the_idle_timeout) {
    limits lim;
    lim.idle_timeout = 300ms;
    connection_harness h(test_routes(), lim);
    ASSERT_TRUE(h.connect(4096));
    h.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // Never read: the write stall timer closes it.
    for (int i = 0; i < 500 && h.open_connections() != 0; ++i) {
        h.turn(1, 20);
    }
    EXPECT_EQ(h.open_connections(), 0u);
}

TEST(connection, a_slow_but_steady_reader_is_not_cut_off_by_the_stall_timer) {
    // 1 MiB read 16 KiB every 20 ms takes over a second, twice the 500 ms stall limit: the
    // limit is on time without progress, not on the whole download.
    limits lim;
    lim.idle_timeout = 500ms;
    connection_harness h(test_routes(), lim);
    ASSERT_TRUE(h.connect(4096));
    h.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    std::string got;
    const auto start = std::chrono::steady_clock::now();
    while (got.size() < (1u << 20) && std::chrono::steady_clock::now() - start < 30s) {
        const auto until = std::chrono::steady_clock::now() + 20ms;
        while (std::chrono::steady_clock::now() < until) {
            h.turn(1, 5);
        }
        char buf[16384];
        const ssize_t n = ::recv(h.client_fd(), buf, sizeof buf, 0);
        if (n == 0) {
            break; // closed by the server: the bug
        }
        if (n > 0) {
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
    EXPECT_GT(std::chrono::steady_clock::now() - start, lim.idle_timeout);
    EXPECT_GT(got.size(), 1u << 20) << "the download was cut off";
    EXPECT_EQ(h.open_connections(), 1u);
}

TEST(connection, an_answer_sent_from_another_callback_on_the_loop_thread_is_deferred) {
    // A store's on_io or a timer answering on the loop thread must not run the connection
    // re-entrantly inside that callback: the answer arrives after it returns.
    std::vector<responder> parked;
    connection_harness h(test_routes(&parked));
    ASSERT_TRUE(h.connect());
    h.send("GET /park HTTP/1.1\r\nHost: t\r\n\r\n" + get_root);
    ASSERT_TRUE(h.turn_until([&] { return parked.size() == 1; }));
    std::size_t seen_inside = 0;
    net::timer t([&] {
        parked.front().send(response(200, "text/plain", "from a timer"));
        h.read_available();
        seen_inside = h.received().size(); // nothing written while we are inside
    });
    h.worker().loop().schedule(t, 1ms);
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 2; }));
    EXPECT_EQ(seen_inside, 0u);
    EXPECT_LT(h.received().find("from a timer"), h.received().find("root"));
}

TEST(connection, a_handler_that_never_answers_gets_504_and_close) {
    std::vector<responder> parked;
    limits lim;
    lim.handler_timeout = 200ms;
    connection_harness h(test_routes(&parked), lim);
    ASSERT_TRUE(h.connect());
    h.send("GET /park HTTP/1.1\r\nHost: t\r\n\r\n" + get_root);
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    EXPECT_EQ(h.received().rfind("HTTP/1.1 504 ", 0), 0u) << h.received();
    EXPECT_EQ(count_responses(h.received()), 1);
    ASSERT_EQ(parked.size(), 1u);
    parked.front().send(response(200, "text/plain", "late")); // dropped, safely
    h.shutdown_write();                                       // ends the lingering close
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
}

TEST(connection, a_client_that_leaves_mid_handler_leaves_the_request_valid_for_the_answer) {
    std::vector<responder> parked;
    router r = test_routes(&parked);
    const request* kept = nullptr;
    r.add("POST", "/keep", handler([&](const request& rq, const path_params&, responder res) {
              kept = &rq;
              parked.push_back(std::move(res));
          }));
    connection_harness h(std::move(r));
    ASSERT_TRUE(h.connect());
    h.send("POST /keep HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    ASSERT_TRUE(h.turn_until([&] { return kept != nullptr; }));
    ::shutdown(h.client_fd(), SHUT_RDWR); // the client is gone
    ASSERT_TRUE(h.turn_until([&] { return h.open_connections() == 0; }));
    // A new connection reuses pooled buffers meanwhile.
    connection_harness other(test_routes());
    ASSERT_TRUE(other.connect());
    other.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nXXXXX");
    ASSERT_TRUE(other.turn_until([&] { return count_responses(other.received()) == 1; }));
    EXPECT_EQ(kept->body, "hello"); // still the request's own bytes
    EXPECT_EQ(kept->method, "POST");
    parked.back().send(response(200, "text/plain", "late")); // releases the exchange
    h.turn(2);
}

TEST(connection, a_late_answer_from_another_thread_reaches_the_connection) {
    std::vector<responder> parked;
    connection_harness h(test_routes(&parked));
    ASSERT_TRUE(h.connect());
    h.send("GET /park HTTP/1.1\r\nHost: t\r\n\r\n" + get_root);
    ASSERT_TRUE(h.turn_until([&] { return parked.size() == 1; }));
    std::thread other([&] { parked.front().send(response(200, "text/plain", "from afar")); });
    other.join();
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 2; }));
    EXPECT_LT(h.received().find("from afar"), h.received().find("root"));
}

TEST(connection, a_body_trickled_slowly_but_steadily_is_read) {
    limits lim;
    lim.header_timeout = 300ms; // the longest stall
    connection_harness h(test_routes(), lim);
    ASSERT_TRUE(h.connect());
    h.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n");
    for (const char c : std::string("12345678")) { // 8 x 100 ms = 800 ms > 300 ms
        const auto until = std::chrono::steady_clock::now() + 100ms;
        while (std::chrono::steady_clock::now() < until) {
            h.turn(1, 10);
        }
        h.send(std::string_view(&c, 1));
    }
    ASSERT_TRUE(h.turn_until([&] { return count_responses(h.received()) == 1; }));
    EXPECT_EQ(h.received().rfind("HTTP/1.1 200 ", 0), 0u) << h.received();
    EXPECT_NE(h.received().find("12345678"), std::string::npos);
}

TEST(connection, eof_after_pipelined_requests_answers_them_then_closes) {
    connection_harness h(test_routes());
    ASSERT_TRUE(h.connect());
    h.send(get_root + get_root + "GET /later HTTP/1.1\r\nHost: t\r\n\r\n");
    h.shutdown_write();
    ASSERT_TRUE(h.turn_until([&] { return h.eof(); }));
    EXPECT_EQ(count_responses(h.received()), 3);
    EXPECT_EQ(h.open_connections(), 0u);
}

} // namespace
} // namespace hs::test
