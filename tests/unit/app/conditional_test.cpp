// Entity tags and If-Match / If-None-Match lists (RFC 9110 §8.8.3, §13.1).
#include "app/conditional.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace hs::app {
namespace {

tag_list parse(std::vector<std::pair<std::string_view, std::string_view>> fields) {
    std::vector<header> hs;
    for (auto& [n, v] : fields) {
        hs.push_back({n, v});
    }
    request rq;
    rq.headers = hs;
    return read_conditions(rq).if_match;
}

TEST(conditional, etags_carry_the_prefix_and_the_version) {
    EXPECT_EQ(make_etag("ab12", 7), "\"ab12-7\"");
    EXPECT_EQ(version_of("ab12-7", "ab12"), 7u);
    EXPECT_FALSE(version_of("ab13-7", "ab12"));
    EXPECT_FALSE(version_of("ab12-", "ab12"));
    EXPECT_FALSE(version_of("ab12-07", "ab12"));
    EXPECT_FALSE(version_of("ab12-7x", "ab12"));
    EXPECT_FALSE(version_of("ab127", "ab12"));
}

quick_read classify(std::vector<std::pair<std::string_view, std::string_view>> fields,
                    std::string_view tag = "\"p-1\"") {
    std::vector<header> hs;
    for (auto& [n, v] : fields) {
        hs.push_back({n, v});
    }
    request rq;
    rq.headers = hs;
    return classify_read(rq, tag);
}

TEST(conditional, the_common_reads_are_told_apart_without_parsing) {
    EXPECT_EQ(classify({{"Host", "h"}, {"Accept", "*/*"}}), quick_read::unconditional);
    EXPECT_EQ(classify({{"If-None-Match", "\"p-1\""}}), quick_read::not_modified);
    EXPECT_EQ(classify({{"if-none-match", "W/\"p-1\""}}), quick_read::not_modified);
    // Anything else goes to the full parser, which decides.
    EXPECT_EQ(classify({{"If-None-Match", "\"p-2\""}}), quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-None-Match", "\"p-2\", \"p-1\""}}), quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-None-Match", "*"}}), quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-None-Match", "\"p-1\""}, {"If-None-Match", "x"}}),
              quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-Match", "\"p-1\""}}), quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-None-Match", "W/\"p-1\"x"}}), quick_read::needs_parsing);
    EXPECT_EQ(classify({{"If-None-Match", "X/\"p-1\""}}), quick_read::needs_parsing);
}

TEST(conditional, lists_star_and_weak_tags_parse) {
    const tag_list star = parse({{"If-Match", "*"}});
    EXPECT_TRUE(star.present && star.any && !star.malformed);
    const tag_list l = parse({{"If-Match", "\"p-1\", W/\"p-2\" ,,\"p-3\""}});
    ASSERT_FALSE(l.malformed);
    ASSERT_EQ(l.tags.size(), 3u);
    EXPECT_FALSE(l.tags[0].weak);
    EXPECT_TRUE(l.tags[1].weak);
    EXPECT_EQ(l.tags[2].opaque, "p-3");
    const tag_list two = parse({{"If-Match", "\"p-1\""}, {"if-match", "\"p-2\""}});
    EXPECT_EQ(two.tags.size(), 2u); // one list over two fields
    EXPECT_FALSE(parse({}).present);
}

TEST(conditional, malformed_lists_are_flagged) {
    for (const char* bad :
         {"p-1", "\"p-1", "\"p-1\" \"p-2\"", "W/p", "\"a b\"", "*, \"p-1\"", ""}) {
        EXPECT_TRUE(parse({{"If-Match", bad}}).malformed) << bad;
    }
}

TEST(conditional, strong_and_weak_comparison) {
    const tag_list l = parse({{"If-Match", "W/\"p-2\", \"p-3\", \"q-4\""}});
    EXPECT_FALSE(matches(l, "p", 2, false)); // strong: a weak tag never matches
    EXPECT_TRUE(matches(l, "p", 2, true));   // weak comparison ignores W/
    EXPECT_TRUE(matches(l, "p", 3, false));
    EXPECT_FALSE(matches(l, "p", 4, true)); // another store's tag
    EXPECT_TRUE(matches(parse({{"If-Match", "*"}}), "p", 99, false));
}

} // namespace
} // namespace hs::app
