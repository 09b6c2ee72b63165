// The endpoint table of API.md, row by row, every success and failure status.
#include <gtest/gtest.h>

#include <memory>

#include "e2e/server_process.hpp"

namespace hs::test {
namespace {

class api : public ::testing::Test {
protected:
    void SetUp() override { server_ = std::make_unique<server_process>(); }
    void TearDown() override { server_.reset(); }

    http_response call(const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::string& content_type = "application/json") {
        std::string raw = method + " " + target + " HTTP/1.1\r\nHost: t\r\n";
        if (!content_type.empty()) {
            raw += "Content-Type: " + content_type + "\r\n";
        }
        if (!body.empty() || method == "POST" || method == "PUT") {
            raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        }
        raw += "\r\n" + body;
        client c(server_->port());
        c.send(raw);
        auto r = c.read_response(5s, method == "HEAD");
        EXPECT_TRUE(r.has_value()) << method << " " << target;
        return r.value_or(http_response{});
    }
    void expect_problem(const http_response& r, int status) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
        EXPECT_NE(r.body.find("\"status\":" + std::to_string(status)), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"detail\":\""), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"type\":\"about:blank\""), std::string::npos) << r.body;
    }
    std::unique_ptr<server_process> server_;
};

TEST_F(api, root) {
    const auto r = call("GET", "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, R"({"message":"Welcome to the HTTP server"})");
    const auto h = call("HEAD", "/");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(api, echo) {
    auto r = call("GET", "/echo?message=hello+world%21%20%C3%A9");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.body, "hello world! \xc3\xa9");
    EXPECT_EQ(call("GET", "/echo?message=").body, "");
    EXPECT_EQ(call("GET", "/echo?message=").status, 200);
    EXPECT_EQ(call("GET", "/echo?x=1&message=a%00b").body, std::string("a\0b", 3));
    expect_problem(call("GET", "/echo"), 400);
    expect_problem(call("GET", "/echo?msg=hi"), 400);
    expect_problem(call("GET", "/echo?message=%zz"), 400);
    expect_problem(call("GET", "/echo?message=abc%4"), 400);
    EXPECT_EQ(call("HEAD", "/echo?message=abc").header("Content-Length"), "3");
}

TEST_F(api, post_creates_with_location_and_id_first) {
    const auto r = call("POST", "/data", R"({"name": "a", "id": 99, "n": 1.0e300, "u": "\u00e9"})");
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.header("Location"), "/data/1");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, R"({"id":1,"name":"a","n":1.0e300,"u":"\u00e9"})");
    const auto r2 = call("POST", "/data", "{}", "");
    EXPECT_EQ(r2.status, 201); // no Content-Type is accepted
    EXPECT_EQ(r2.body, R"({"id":2})");
    EXPECT_EQ(call("POST", "/data", "{}", "application/vnd.x+json; charset=utf-8").status, 201);
    EXPECT_EQ(call("GET", "/data/1").body, r.body);
}

TEST_F(api, post_failures) {
    expect_problem(call("POST", "/data", ""), 400);
    expect_problem(call("POST", "/data", "not json"), 400);
    expect_problem(call("POST", "/data", "[1,2]"), 400);
    expect_problem(call("POST", "/data", "{\"a\":1} trailing"), 400);
    expect_problem(call("POST", "/data", "{\"a\":\"\xff\"}"), 400);
    expect_problem(call("POST", "/data", R"({"id":1,"id":2})"), 400);
    expect_problem(call("POST", "/data", std::string(100, '[') + std::string(100, ']')), 400);
    expect_problem(
        call("POST", "/data", "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"),
        400);
    const auto t = call("POST", "/data", "{}", "text/plain");
    expect_problem(t, 415);
    EXPECT_EQ(t.header("Accept-Post"), "application/json");
    expect_problem(call("POST", "/data", "a=1", "application/x-www-form-urlencoded"), 415);
    expect_problem(call("POST", "/data", std::string(1024 * 1024 + 1, ' ')), 413);
    EXPECT_EQ(call("GET", "/data").body, "[]"); // nothing was stored
}

TEST_F(api, list_in_ascending_id_order) {
    EXPECT_EQ(call("GET", "/data").body, "[]");
    for (int i = 0; i < 12; ++i) {
        call("POST", "/data", "{\"i\":" + std::to_string(i) + "}");
    }
    call("DELETE", "/data/3");
    std::string expect = "[";
    for (int i = 0; i < 12; ++i) {
        if (i == 2) {
            continue;
        }
        expect += (expect.size() > 1 ? "," : "") + std::string("{\"id\":") + std::to_string(i + 1) +
                  ",\"i\":" + std::to_string(i) + "}";
    }
    const auto r = call("GET", "/data");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, expect + "]");
    EXPECT_EQ(call("HEAD", "/data").header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(api, get_one) {
    call("POST", "/data", R"({"a":[1,{"b":null}]})");
    const auto r = call("GET", "/data/1");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"id":1,"a":[1,{"b":null}]})");
    expect_problem(call("GET", "/data/2"), 404);
    for (const char* bad : {"/data/0", "/data/-1", "/data/abc", "/data/01",
                            "/data/9223372036854775808", "/data/1.0", "/data/%31"}) {
        expect_problem(call("GET", bad), 404);
    }
    EXPECT_NE(call("GET", "/data/7").body.find("no item with id 7"), std::string::npos);
}

TEST_F(api, put_replaces_but_never_creates) {
    call("POST", "/data", R"({"a":1})");
    const auto r = call("PUT", "/data/1", R"({"b":2,"id":555})");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"id":1,"b":2})");
    EXPECT_EQ(call("GET", "/data/1").body, R"({"id":1,"b":2})");
    expect_problem(call("PUT", "/data/2", R"({"b":2})"), 404);
    expect_problem(call("PUT", "/data/1", R"({"b":2})", ""), 415); // the seed requires it
    expect_problem(call("PUT", "/data/1", R"({"b":2})", "text/plain"), 415);
    expect_problem(call("PUT", "/data/1", R"([1])"), 400);
    expect_problem(call("PUT", "/data/1", ""), 400);
    EXPECT_EQ(call("GET", "/data").body, R"([{"id":1,"b":2}])");
}

TEST_F(api, delete_and_ids_are_never_reused) {
    call("POST", "/data", "{}");
    call("POST", "/data", "{}");
    const auto d = call("DELETE", "/data/2");
    EXPECT_EQ(d.status, 204);
    EXPECT_TRUE(d.body.empty());
    EXPECT_FALSE(d.header("Content-Length").has_value());
    expect_problem(call("DELETE", "/data/2"), 404);
    expect_problem(call("GET", "/data/2"), 404);
    EXPECT_EQ(call("POST", "/data", "{}").header("Location"), "/data/3");
}

TEST_F(api, options_405_and_501) {
    const auto o = call("OPTIONS", "/data/1", "", "");
    EXPECT_EQ(o.status, 204);
    EXPECT_EQ(o.header("Allow"), "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
    EXPECT_EQ(call("OPTIONS", "/data", "", "").header("Allow"), "GET, HEAD, POST, OPTIONS");
    EXPECT_EQ(call("OPTIONS", "/", "", "").header("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(call("OPTIONS", "*", "", "").header("Allow"),
              "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    const auto m = call("POST", "/", "{}");
    expect_problem(m, 405);
    EXPECT_EQ(m.header("Allow"), "GET, HEAD, OPTIONS");
    expect_problem(call("DELETE", "/data", "", ""), 405);
    const auto p = call("PATCH", "/data", "{}", "application/merge-patch+json");
    expect_problem(p, 405); // the collection takes no PATCH
    EXPECT_EQ(p.header("Allow"), "GET, HEAD, POST, OPTIONS");
    expect_problem(call("BREW", "/", "", ""), 501);
    expect_problem(call("GET", "/nowhere", "", ""), 404);
    expect_problem(call("GET", "/data/1/x", "", ""), 404);
}

} // namespace
} // namespace hs::test
