// Versions, ETags, conditional requests, PATCH (RFC 7396) and paging, end to end (API.md
// "Versions and conditional requests", "Partial updates and listing").
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

class conditional : public ::testing::Test {
protected:
    void start(std::vector<std::string> args = {}) {
        server_ = std::make_unique<server_process>(std::move(args));
    }
    void SetUp() override { start(); }

    /// One request on a fresh connection; \p extra are whole header lines ("If-Match: x").
    http_response call(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::vector<std::string>& extra = {},
                       const std::string& type = "application/json") {
        std::string raw = method + " " + target + " HTTP/1.1\r\nHost: t\r\n";
        if (!type.empty() && !body.empty()) {
            raw += "Content-Type: " + type + "\r\n";
        }
        for (const auto& h : extra) {
            raw += h + "\r\n";
        }
        if (!body.empty()) {
            raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        }
        raw += "\r\n" + body;
        client c(server_->port());
        c.send(raw);
        auto r = c.read_response(10s, method == "HEAD");
        EXPECT_TRUE(r.has_value()) << method << " " << target;
        return r.value_or(http_response{});
    }
    http_response patch(const std::string& target, const std::string& body,
                        const std::vector<std::string>& extra = {}) {
        return call("PATCH", target, body, extra, "application/merge-patch+json");
    }
    std::string etag(const std::string& target) {
        return call("GET", target).header("ETag").value_or("");
    }

    std::unique_ptr<server_process> server_;
};

TEST_F(conditional, etag_on_201_get_head_put_and_patch_changes_on_every_write) {
    const auto c = call("POST", "/data", R"({"a":1})");
    ASSERT_EQ(c.status, 201);
    const std::string e1 = c.header("ETag").value_or("");
    EXPECT_TRUE(std::regex_match(e1, std::regex("\"[0-9a-f]{16}-1\""))) << e1;
    EXPECT_EQ(call("GET", "/data/1").header("ETag"), e1);
    EXPECT_EQ(call("HEAD", "/data/1").header("ETag"), e1);
    const auto p = call("PUT", "/data/1", R"({"a":2})");
    EXPECT_EQ(p.status, 200);
    const std::string e2 = p.header("ETag").value_or("");
    EXPECT_NE(e2, e1);
    const auto m = patch("/data/1", R"({"b":3})");
    EXPECT_EQ(m.status, 200) << m.body;
    const std::string e3 = m.header("ETag").value_or("");
    EXPECT_NE(e3, e2);
    EXPECT_EQ(etag("/data/1"), e3);
    EXPECT_FALSE(call("DELETE", "/data/1").header("ETag"));
}

TEST_F(conditional, etags_are_not_reused_by_a_restarted_store) {
    call("POST", "/data", "{}");
    const std::string before = etag("/data/1");
    start(); // a fresh process: ids and versions start again at 1
    call("POST", "/data", "{}");
    EXPECT_NE(etag("/data/1"), before);
}

TEST_F(conditional, if_none_match_gives_304_with_weak_comparison_lists_and_star) {
    call("POST", "/data", R"({"a":1})");
    const std::string e = etag("/data/1");
    for (const std::string& v : {e, "W/" + e, "\"other\", " + e, std::string("*")}) {
        const auto r = call("GET", "/data/1", "", {"If-None-Match: " + v});
        EXPECT_EQ(r.status, 304) << v;
        EXPECT_EQ(r.header("ETag"), e) << v;
        EXPECT_TRUE(r.body.empty());
        EXPECT_FALSE(r.header("Content-Length")) << v;
    }
    EXPECT_EQ(call("HEAD", "/data/1", "", {"If-None-Match: " + e}).status, 304);
    EXPECT_EQ(call("GET", "/data/1", "", {"If-None-Match: \"nope\""}).status, 200);
    // Malformed: ignored, as if absent.
    EXPECT_EQ(call("GET", "/data/1", "", {"If-None-Match: no-quotes"}).status, 200);
    // Missing item: 404 before any precondition.
    EXPECT_EQ(call("GET", "/data/9", "", {"If-None-Match: *"}).status, 404);
}

TEST_F(conditional, if_match_on_writes_412_when_it_does_not_match_and_nothing_changes) {
    call("POST", "/data", R"({"a":1})");
    const std::string e = etag("/data/1");
    const auto bad = call("PUT", "/data/1", R"({"a":2})", {"If-Match: \"nope\""});
    EXPECT_EQ(bad.status, 412);
    EXPECT_EQ(bad.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(bad.header("ETag"), e); // the current one, to retry with
    EXPECT_EQ(call("GET", "/data/1").body, R"({"id":1,"a":1})");
    // Weak tags never match If-Match (strong comparison).
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":2})", {"If-Match: W/" + e}).status, 412);
    EXPECT_EQ(patch("/data/1", R"({"a":2})", {"If-Match: \"x\""}).status, 412);
    EXPECT_EQ(call("DELETE", "/data/1", "", {"If-Match: \"x\""}).status, 412);
    // Malformed If-Match matches nothing.
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":2})", {"If-Match: broken"}).status, 412);
    // A list with the current tag, and `*`, both match.
    const auto ok = call("PUT", "/data/1", R"({"a":2})", {"If-Match: \"x\", " + e});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":3})", {"If-Match: *"}).status, 200);
    // If-None-Match: * on a write to an existing item: 412.
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":4})", {"If-None-Match: *"}).status, 412);
    EXPECT_EQ(call("DELETE", "/data/1", "", {"If-Match: " + etag("/data/1")}).status, 204);
}

TEST_F(conditional, preconditions_come_after_404_400_and_415) {
    call("POST", "/data", R"({"a":1})");
    EXPECT_EQ(call("PUT", "/data/7", R"({"a":1})", {"If-Match: \"x\""}).status, 404);
    EXPECT_EQ(call("PUT", "/data/1", R"([1])", {"If-Match: \"x\""}).status, 400);
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":1})", {"If-Match: \"x\""}, "text/plain").status, 415);
    EXPECT_EQ(patch("/data/7", R"({"a":1})", {"If-Match: \"x\""}).status, 404);
    EXPECT_EQ(call("DELETE", "/data/7", "", {"If-Match: \"x\""}).status, 404);
}

TEST_F(conditional, require_if_match_gives_428_to_unconditional_writes) {
    start({"--require-if-match"});
    call("POST", "/data", R"({"a":1})");
    for (const auto& r : {call("PUT", "/data/1", R"({"a":2})"), patch("/data/1", R"({"a":2})"),
                          call("DELETE", "/data/1")}) {
        EXPECT_EQ(r.status, 428) << r.body;
        EXPECT_NE(r.body.find("If-Match"), std::string::npos);
    }
    EXPECT_EQ(call("PUT", "/data/1", R"({"a":2})", {"If-Match: " + etag("/data/1")}).status, 200);
    EXPECT_EQ(call("GET", "/data/1").status, 200); // reads are not affected
}

TEST_F(conditional, patch_merges_keeps_bytes_and_ignores_an_id) {
    call("POST", "/data", R"({"n":1.50,"s":"\u00e9","o":{"x":1,"y":2},"gone":true})");
    const auto r = patch("/data/1", R"({"id":99,"o":{"y":null,"z":[1]},"gone":null,"new":"v"})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"id":1,"n":1.50,"s":"\u00e9","o":{"x":1,"z":[1]},"new":"v"})");
    EXPECT_EQ(call("GET", "/data/1").body, r.body);
}

TEST_F(conditional,
       a_patch_that_would_grow_the_item_past_the_body_limit_is_413_and_changes_nothing) {
    start({"--max-body-bytes", "200"});
    const std::string body = R"({"text":")" + std::string(120, 'a') + R"("})";
    ASSERT_EQ(call("POST", "/data", body).status, 201);
    const std::string patch_body = R"({"more":")" + std::string(120, 'b') + R"("})";
    const auto big = patch("/data/1", patch_body);
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.header("Content-Type"), "application/problem+json");
    EXPECT_NE(big.body.find("nothing was changed"), std::string::npos) << big.body;
    const auto now = call("GET", "/data/1");
    EXPECT_EQ(now.status, 200);
    EXPECT_EQ(now.body, R"({"id":1,"text":")" + std::string(120, 'a') + R"("})");
    EXPECT_EQ(now.header("ETag"), etag("/data/1"));
    EXPECT_EQ(patch("/data/1", R"({"text":"short"})").status, 200); // still served
}

TEST_F(conditional, patch_refuses_other_types_with_accept_patch_and_non_objects_with_400) {
    call("POST", "/data", R"({"a":1})");
    for (const char* type : {"application/json", "text/plain", ""}) {
        const auto r = call("PATCH", "/data/1", R"({"a":2})", {}, type);
        EXPECT_EQ(r.status, 415) << type;
        EXPECT_EQ(r.header("Accept-Patch"), "application/merge-patch+json") << type;
    }
    EXPECT_EQ(
        call("PATCH", "/data/1", R"({"a":2})", {}, "Application/Merge-Patch+JSON; charset=utf-8")
            .status,
        200);
    for (const char* body : {R"([1])", "null", R"("x")", "{"}) {
        EXPECT_EQ(patch("/data/1", body).status, 400) << body;
    }
    EXPECT_EQ(patch("/data/2", R"({"a":1})").status, 404);
}

TEST_F(conditional, paging_with_limit_after_and_link) {
    for (int i = 1; i <= 5; ++i) {
        call("POST", "/data", R"({"i":)" + std::to_string(i) + "}");
    }
    call("DELETE", "/data/3");
    auto r = call("GET", "/data?limit=2");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"([{"id":1,"i":1},{"id":2,"i":2}])");
    EXPECT_EQ(r.header("Link"), "</data?limit=2&after=2>; rel=\"next\"");
    r = call("GET", "/data?limit=2&after=2");
    EXPECT_EQ(r.body, R"([{"id":4,"i":4},{"id":5,"i":5}])");
    EXPECT_FALSE(r.header("Link")); // nothing follows
    EXPECT_EQ(call("GET", "/data?after=3").body, R"([{"id":4,"i":4},{"id":5,"i":5}])");
    EXPECT_EQ(call("GET", "/data?limit=1000&after=5").body, "[]");
    EXPECT_EQ(call("GET", "/data?limit=5&x=1").body.find("\"id\":1"), 2u); // unknown: ignored
    EXPECT_EQ(call("GET", "/data?after=0").body.size(), call("GET", "/data").body.size());
    for (const char* bad :
         {"limit=0", "limit=1001", "limit=01", "limit=-1", "limit=a", "limit=", "after=-1",
          "after=01", "after=9223372036854775808", "after=x", "limit=2&after=1.5"}) {
        const auto b = call("GET", std::string("/data?") + bad);
        EXPECT_EQ(b.status, 400) << bad;
        EXPECT_EQ(b.header("Content-Type"), "application/problem+json") << bad;
    }
}

TEST_F(conditional, get_data_lists_everything_across_pages) {
    // More than one store page (1000): the walk continues after each page.
    std::string batch;
    for (int i = 0; i < 2500; ++i) {
        batch += "POST /data HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}";
    }
    client c(server_->port());
    c.send(batch);
    for (int i = 0; i < 2500; ++i) {
        ASSERT_TRUE(c.read_response(10s));
    }
    const auto all = call("GET", "/data");
    EXPECT_EQ(all.status, 200);
    std::size_t n = 0;
    for (std::size_t p = all.body.find("{\"id\":"); p != std::string::npos;
         p = all.body.find("{\"id\":", p + 1)) {
        ++n;
    }
    EXPECT_EQ(n, 2500u);
    EXPECT_EQ(all.body.substr(0, 10), R"([{"id":1},)");
    EXPECT_NE(all.body.find(R"({"id":2500}])"), std::string::npos);
}

TEST_F(conditional, concurrent_if_match_writers_lose_no_update) {
    // Eight clients increment one counter by GET, then PUT with If-Match, retrying on 412:
    // the final value counts every acknowledged write (the model), none is lost.
    call("POST", "/data", R"({"n":0})");
    constexpr int clients = 8;
    constexpr int each = 25;
    std::atomic<int> acknowledged{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < clients; ++t) {
        ts.emplace_back([&] {
            for (int done = 0; done < each;) {
                const auto g = call("GET", "/data/1");
                const int n = std::stoi(g.body.substr(g.body.find("\"n\":") + 4));
                const auto w = call("PUT", "/data/1", R"({"n":)" + std::to_string(n + 1) + "}",
                                    {"If-Match: " + g.header("ETag").value_or("")});
                if (w.status == 200) {
                    ++done;
                    ++acknowledged;
                } else {
                    ASSERT_EQ(w.status, 412) << w.body;
                }
            }
        });
    }
    for (auto& th : ts) {
        th.join();
    }
    EXPECT_EQ(acknowledged.load(), clients * each);
    EXPECT_EQ(call("GET", "/data/1").body,
              R"({"id":1,"n":)" + std::to_string(clients * each) + "}");
}

} // namespace
} // namespace hs::test
