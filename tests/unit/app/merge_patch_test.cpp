// RFC 7396 on JSON text: the appendix A examples, byte-for-byte preservation, names compared
// unescaped.
#include "app/merge_patch.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hs::app {
namespace {

/// Merges two whole objects (test inputs are minified objects).
std::string merge(std::string_view target, std::string_view patch) {
    return "{" + merge_patch(members_of(target), members_of(patch)) + "}";
}

TEST(merge_patch, rfc7396_appendix_a_examples_with_object_patches) {
    // Every example of RFC 7396 Appendix A whose target and patch are objects (the API refuses
    // a patch that is not an object with 400, and an item is always an object).
    EXPECT_EQ(merge(R"({"a":"b"})", R"({"a":"c"})"), R"({"a":"c"})");
    EXPECT_EQ(merge(R"({"a":"b"})", R"({"b":"c"})"), R"({"a":"b","b":"c"})");
    EXPECT_EQ(merge(R"({"a":"b"})", R"({"a":null})"), R"({})");
    EXPECT_EQ(merge(R"({"a":"b","b":"c"})", R"({"a":null})"), R"({"b":"c"})");
    EXPECT_EQ(merge(R"({"a":["b"]})", R"({"a":"c"})"), R"({"a":"c"})");
    EXPECT_EQ(merge(R"({"a":"c"})", R"({"a":["b"]})"), R"({"a":["b"]})");
    EXPECT_EQ(merge(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), R"({"a":{"b":"d"}})");
    EXPECT_EQ(merge(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), R"({"a":[1]})");
    EXPECT_EQ(merge(R"({"e":null})", R"({"a":1})"), R"({"e":null,"a":1})");
    EXPECT_EQ(merge(R"({})", R"({"a":{"bb":{"ccc":null}}})"), R"({"a":{"bb":{}}})");
    // The RFC's first example (section 1), whole.
    EXPECT_EQ(merge(R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},)"
                    R"("tags":["example","sample"],"content":"This will be unchanged"})",
                    R"({"title":"Hello!","phoneNumber":"+01-123-456-7890",)"
                    R"("author":{"familyName":null},"tags":["example"]})"),
              R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],)"
              R"("content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})");
}

TEST(merge_patch, values_not_touched_stay_byte_for_byte) {
    EXPECT_EQ(
        merge(
            R"({"n":1.0E+10,"big":123456789012345678901234567890,"s":"\u00e9\n","o":{"z":1,"a":2}})",
            R"({"x":true})"),
        R"({"n":1.0E+10,"big":123456789012345678901234567890,"s":"\u00e9\n","o":{"z":1,"a":2},"x":true})");
}

TEST(merge_patch, a_non_object_replaced_by_an_object_patch_loses_its_nulls) {
    EXPECT_EQ(merge(R"({"a":5})", R"({"a":{"b":null,"c":1}})"), R"({"a":{"c":1}})");
    EXPECT_EQ(merge(R"({"a":[1,{"x":2}]})", R"({"a":{"k":[null]}})"), R"({"a":{"k":[null]}})");
}

TEST(merge_patch, names_are_compared_unescaped_and_the_target_spelling_is_kept) {
    EXPECT_EQ(merge(R"({"\u0061":1,"b":2})", R"({"a":3})"), R"({"\u0061":3,"b":2})");
    EXPECT_EQ(merge(R"({"a":1})", R"({"\u0061":null})"), R"({})");
    EXPECT_EQ(merge(R"({"\ud83d\ude00":1})", R"({"😀":2})"), R"({"\ud83d\ude00":2})");
    EXPECT_EQ(merge(R"({"q\"":1})", R"({"q\u0022":2})"), R"({"q\"":2})");
}

TEST(merge_patch, strings_with_brackets_and_commas_do_not_confuse_the_scanner) {
    EXPECT_EQ(merge(R"({"a":"},{]\"","b":[",",{"c":"}"}]})", R"({"b":null,"d":"x,y"})"),
              R"({"a":"},{]\"","d":"x,y"})");
}

TEST(merge_patch, duplicate_names_in_the_target_are_all_removed_by_null) {
    EXPECT_EQ(merge(R"({"a":1,"b":2,"a":3})", R"({"a":null})"), R"({"b":2})");
}

TEST(merge_patch, a_value_for_a_duplicated_name_leaves_one_member_with_it) {
    // Whichever duplicate a reader takes, it sees the patched value.
    EXPECT_EQ(merge(R"({"a":1,"b":2,"a":3})", R"({"a":9})"), R"({"a":9,"b":2})");
    // An object merges into the last duplicate (what most readers took).
    EXPECT_EQ(merge(R"({"o":{"x":1},"o":{"y":2}})", R"({"o":{"z":3}})"), R"({"o":{"y":2,"z":3}})");
}

TEST(merge_patch, members_without_id_skips_the_servers_id) {
    EXPECT_EQ(members_without_id(R"({"id":12,"a":1})"), R"("a":1)");
    EXPECT_EQ(members_without_id(R"({"id":12})"), "");
}

} // namespace
} // namespace hs::app
