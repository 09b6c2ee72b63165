// `GET /data` of a large store, end to end (API.md "Partial updates and listing"): streamed
// (chunked), every item once in ascending id order, memory bounded whatever the store's size,
// other connections served while it is sent, a client that stops reading pins little, and
// writes during the walk never duplicate or reorder an item.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool memory_is_measurable = false; // a sanitizer's allocator keeps freed memory
#else
constexpr bool memory_is_measurable = true;
#endif

constexpr std::size_t items = 200'000;
constexpr std::size_t rss_bound_kib = 16 * 1024;

/// About 100 bytes of stored text per item, so the whole listing is ~20 MB: building it in
/// one piece (what the server did before) would take more than the bound twice over.
std::string item_body(std::size_t i) {
    return R"({"name":"item-)" + std::to_string(i) + R"(","padding":")" + std::string(64, 'p') +
           "\"}";
}

/// The ids of a listing's items in the order they appear; empty when the text is not an array
/// of our items.
std::vector<std::uint64_t> ids_of(const std::string& body) {
    std::vector<std::uint64_t> ids;
    if (body.size() < 2 || body.front() != '[' || body.back() != ']') {
        return ids;
    }
    constexpr std::string_view key = "{\"id\":";
    for (std::size_t p = body.find(key); p != std::string::npos; p = body.find(key, p + 1)) {
        ids.push_back(std::stoull(body.substr(p + key.size(), 20)));
    }
    return ids;
}

class listing : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // One worker: "other connections keep being served" then means by the same loop.
        server_ = new server_process({"--threads", "1", "--access-log", "off"});
        client c(server_->port());
        constexpr std::size_t batch = 2000;
        for (std::size_t done = 0; done < items; done += batch) {
            std::string raw;
            for (std::size_t i = done; i < done + batch; ++i) {
                const std::string body = item_body(i + 1);
                raw += "POST /data HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
            }
            ASSERT_TRUE(c.send(raw));
            for (std::size_t i = 0; i < batch; ++i) {
                const auto r = c.read_response(30s);
                ASSERT_TRUE(r && r->status == 201);
            }
        }
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (server_ == nullptr || !server_->running()) {
            GTEST_SKIP() << "the store could not be filled";
        }
    }

    static server_process* server_;
};
server_process* listing::server_ = nullptr;

TEST_F(listing, two_hundred_thousand_items_stream_once_each_in_order_in_bounded_memory) {
    ASSERT_TRUE(server_->reset_peak_rss());
    const std::size_t before = server_->rss_kib();
    client c(server_->port());
    ASSERT_TRUE(c.send("GET /data HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto r = c.read_response(120s);
    ASSERT_TRUE(r.has_value());
    const std::size_t peak = server_->peak_rss_kib();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r->header("Content-Length"));
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    EXPECT_GT(r->chunks, 100u) << "streamed in pieces";
    const std::vector<std::uint64_t> ids = ids_of(r->body);
    ASSERT_EQ(ids.size(), items);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ASSERT_EQ(ids[i], i + 1) << "at position " << i;
    }
    EXPECT_NE(r->body.find(R"({"id":123456,"name":"item-123456","padding":")"), std::string::npos);
    EXPECT_GT(r->body.size(), 20'000'000u);
    if (memory_is_measurable) {
        EXPECT_LT(peak - before, rss_bound_kib)
            << "the server's RSS grew by " << (peak - before) << " KiB while listing";
    }
    // The connection stays usable after a streamed body.
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
}

TEST_F(listing, a_client_that_stops_reading_pins_little_and_others_are_served_meanwhile) {
    ASSERT_TRUE(server_->reset_peak_rss());
    const std::size_t before = server_->rss_kib();
    client stalled(server_->port());
    ASSERT_TRUE(stalled.send("GET /data HTTP/1.1\r\nHost: t\r\n\r\n"));
    // While it reads nothing, the one worker answers everyone else.
    for (int i = 0; i < 50; ++i) {
        const auto r = request_once(server_->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        ASSERT_TRUE(r) << "request " << i << " was not answered while a listing stalled";
        EXPECT_EQ(r->status, 200);
    }
    std::this_thread::sleep_for(300ms);
    const std::size_t peak = server_->peak_rss_kib();
    if (memory_is_measurable) {
        EXPECT_LT(peak - before, 4u * 1024)
            << "a stalled listing pinned " << (peak - before) << " KiB";
    }
    const auto r = stalled.read_response(120s);
    ASSERT_TRUE(r);
    EXPECT_EQ(ids_of(r->body).size(), items);
}

TEST_F(listing, writes_during_the_walk_never_repeat_or_reorder_an_item) {
    // The listing is read slowly while items are created, replaced and deleted behind and ahead
    // of the walk: whatever it shows, each id appears once, ascending, and every item that
    // existed throughout and was never deleted is there.
    client c(server_->port());
    ASSERT_TRUE(c.send("GET /data HTTP/1.1\r\nHost: t\r\n\r\n"));
    client w(server_->port());
    std::vector<std::uint64_t> deleted;
    for (std::uint64_t id = 150'000; id < 150'100; ++id) {
        ASSERT_TRUE(w.send("DELETE /data/" + std::to_string(id) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
        const auto d = w.read_response();
        ASSERT_TRUE(d && d->status == 204);
        deleted.push_back(id);
        const std::string body = item_body(id);
        ASSERT_TRUE(
            w.send("PUT /data/" + std::to_string(id - 100'000) +
                   " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
        const auto p = w.read_response();
        ASSERT_TRUE(p);
        ASSERT_EQ(p->status, 200) << p->body;
        ASSERT_TRUE(w.send("POST /data HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"));
        const auto n = w.read_response();
        ASSERT_TRUE(n && n->status == 201);
    }
    const auto r = c.read_response(120s);
    ASSERT_TRUE(r);
    const std::vector<std::uint64_t> ids = ids_of(r->body);
    for (std::size_t i = 1; i < ids.size(); ++i) {
        ASSERT_LT(ids[i - 1], ids[i]) << "at position " << i;
    }
    std::size_t present = 0;
    for (std::uint64_t id = 1; id <= items; ++id) {
        if (id < 150'000 || id >= 150'100) {
            present += std::binary_search(ids.begin(), ids.end(), id) ? 1 : 0;
        }
    }
    EXPECT_EQ(present, items - deleted.size());
}

TEST_F(listing, after_without_limit_streams_the_rest_and_head_sends_no_body) {
    const auto tail =
        request_once(server_->port(), "GET /data?after=199990 HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(tail);
    EXPECT_EQ(tail->status, 200);
    const std::vector<std::uint64_t> ids = ids_of(tail->body);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 199'991u);
    EXPECT_LT(ids.size(), 20u + 100u); // the tail, plus what an earlier test created
    client c(server_->port());
    ASSERT_TRUE(c.send("HEAD /data HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto head = c.read_response(10s, true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("Transfer-Encoding"), "chunked");
    const auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, R"({"message":"Welcome to the HTTP server"})");
}

TEST_F(listing, http_1_0_gets_the_listing_delimited_by_the_close) {
    client c(server_->port());
    ASSERT_TRUE(c.send("GET /data HTTP/1.0\r\n\r\n"));
    const std::string all = c.read_until_close(120s);
    const auto head_end = all.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const std::string head = all.substr(0, head_end);
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
    const std::vector<std::uint64_t> ids = ids_of(all.substr(head_end + 4));
    EXPECT_GT(ids.size(), items - 200);
}

} // namespace
} // namespace hs::test
