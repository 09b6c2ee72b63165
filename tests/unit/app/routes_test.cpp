#include "app/routes.hpp"

#include <gtest/gtest.h>

namespace hs::app {
namespace {

TEST(routes, json_media_types) {
    for (const char* ok :
         {"application/json", "Application/JSON", "application/json; charset=utf-8",
          "application/problem+json", "application/vnd.api+json;v=1", " application/json "}) {
        EXPECT_TRUE(is_json_media_type(ok)) << ok;
    }
    for (const char* bad : {"", "text/plain", "application/jsonx", "json", "application/", "/json",
                            "application/x-www-form-urlencoded", "+json", "application/+json"}) {
        EXPECT_FALSE(is_json_media_type(bad)) << bad;
    }
}

TEST(routes, ids) {
    EXPECT_EQ(parse_id("1"), 1u);
    EXPECT_EQ(parse_id("9223372036854775807"), 9223372036854775807ull);
    for (const char* bad : {"", "0", "-1", "+1", "01", "1a", "9223372036854775808",
                            "99999999999999999999", " 1", "%31"}) {
        EXPECT_EQ(parse_id(bad), 0u) << bad;
    }
}

} // namespace
} // namespace hs::app
