#include "hs/router.hpp"

#include <gtest/gtest.h>

namespace hs {
namespace {

router make() {
    router r;
    auto ok = [](const request&, const path_params&) { return response(200, "text/plain", "ok"); };
    r.add("GET", "/", ok);
    r.add("GET", "/data", ok);
    r.add("POST", "/data", ok);
    r.add("GET", "/data/{id}", ok);
    r.add("PUT", "/data/{id}", ok);
    r.add("DELETE", "/data/{id}", ok);
    r.add("GET", "/data/latest", ok);
    return r;
}

TEST(router, literal_beats_parameter_and_captures_values) {
    router r = make();
    path_params p;
    auto m = r.find("GET", "/data/latest", p);
    EXPECT_EQ(m.what, router::match::kind::found);
    EXPECT_EQ(p.size(), 0u);
    m = r.find("GET", "/data/42", p);
    EXPECT_EQ(m.what, router::match::kind::found);
    EXPECT_EQ(p.get("id"), "42");
}

TEST(router, not_found) {
    router r = make();
    path_params p;
    for (const char* path : {"/nowhere", "/data/1/2", "/data/", "//", "", "/dat"}) {
        EXPECT_EQ(r.find("GET", path, p).what, router::match::kind::not_found) << path;
    }
}

TEST(router, method_not_allowed_lists_allow) {
    router r = make();
    path_params p;
    const auto m = r.find("PATCH", "/data/1", p);
    EXPECT_EQ(m.what, router::match::kind::method_not_allowed);
    EXPECT_EQ(m.allow, "GET, HEAD, PUT, DELETE, OPTIONS");
    EXPECT_EQ(r.find("DELETE", "/", p).allow, "GET, HEAD, OPTIONS");
}

TEST(router, unknown_method_is_not_implemented) {
    router r = make();
    path_params p;
    EXPECT_EQ(r.find("BREW", "/", p).what, router::match::kind::not_implemented);
    EXPECT_EQ(r.find("get", "/", p).what, router::match::kind::not_implemented); // case-sensitive
}

TEST(router, head_falls_back_to_get_and_options_is_answered) {
    router r = make();
    path_params p;
    EXPECT_EQ(r.find("HEAD", "/data/1", p).what, router::match::kind::found);
    const auto o = r.find("OPTIONS", "/data", p);
    EXPECT_EQ(o.what, router::match::kind::options);
    EXPECT_EQ(o.allow, "GET, HEAD, POST, OPTIONS");
    const auto star = r.find("OPTIONS", "*", p);
    EXPECT_EQ(star.what, router::match::kind::options);
    EXPECT_EQ(star.allow, "GET, HEAD, POST, PUT, DELETE, OPTIONS");
}

} // namespace
} // namespace hs
