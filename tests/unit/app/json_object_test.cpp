#include "app/json_object.hpp"

#include <gtest/gtest.h>

namespace hs::app {
namespace {

std::string members_of(std::string_view body, json_error::kind expect = json_error::kind::none,
                       std::size_t depth = 64) {
    std::string m;
    const json_error e = normalize_object(body, json_limits{depth}, m);
    EXPECT_EQ(e.what, expect) << body << ": " << e.detail;
    return m;
}

TEST(json_object, keeps_members_as_sent_without_whitespace) {
    EXPECT_EQ(members_of(R"( { "b" : 1 , "a" : [ 1 , { "x" : "a b" } ] } )"),
              R"("b":1,"a":[1,{"x":"a b"}])");
    EXPECT_EQ(members_of("{}"), "");
    EXPECT_EQ(members_of("{\n}\n"), "");
}

TEST(json_object, keeps_numbers_and_escapes_byte_for_byte) {
    EXPECT_EQ(
        members_of(
            R"({"n":123456789012345678901234567890,"f":1.5E+300,"z":-0,"d":0.10000000000000000001})"),
        R"("n":123456789012345678901234567890,"f":1.5E+300,"z":-0,"d":0.10000000000000000001)");
    // Past a double's range the library refuses the number (documented in DECISIONS.md).
    members_of(R"({"f":1e400})", json_error::kind::syntax);
    EXPECT_EQ(members_of(R"({"s":"\u00e9\n\"\\ \ud83d\ude00","u":"é"})"),
              R"("s":"\u00e9\n\"\\ \ud83d\ude00","u":"é")");
}

TEST(json_object, drops_the_client_id_however_written) {
    EXPECT_EQ(members_of(R"({"id":5,"a":1})"), R"("a":1)");
    EXPECT_EQ(members_of(R"({"a":1,"id":{"x":"y"}})"), R"("a":1)");
    EXPECT_EQ(members_of(R"({"\u0069d":"x","a":"id"})"), R"("a":"id")");
    EXPECT_EQ(members_of(R"({"a":{"id":1}})"), R"("a":{"id":1})"); // only the top level
    EXPECT_EQ(members_of(R"({"id":"s","ids":1})"), R"("ids":1)");
}

TEST(json_object, refuses_two_ids) {
    members_of(R"({"id":1,"id":2})", json_error::kind::duplicate_id);
    members_of(R"({"id":1,"i\u0064":2})", json_error::kind::duplicate_id);
}

TEST(json_object, refuses_what_is_not_one_object) {
    members_of("", json_error::kind::empty);
    members_of("  \n", json_error::kind::empty);
    for (const char* s : {"[]", "1", "\"s\"", "null", "true"}) {
        members_of(s, json_error::kind::not_object);
    }
    for (const char* s :
         {"{", "{\"a\"}", "{\"a\":1,}", "{'a':1}", "{\"a\":01}", "{\"a\":NaN}", "{} {}", "{}x",
          "{\"a\":1}//c", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}"}) {
        members_of(s, json_error::kind::syntax);
    }
    members_of(std::string_view("{}\0garbage", 10), json_error::kind::syntax);
}

TEST(json_object, refuses_invalid_utf8) {
    members_of("{\"a\":\"\xff\"}", json_error::kind::syntax);
    members_of("{\"a\":\"\xc3\"}", json_error::kind::syntax);
    members_of("{\"a\":\"\xed\xa0\x80\"}", json_error::kind::syntax); // UTF-16 surrogate in UTF-8
}

TEST(json_object, refuses_lone_surrogate_escapes) {
    // RFC 8259 §8.2 leaves unpaired surrogates undefined; they have no UTF-8 form (RFC 3629 §3),
    // so a body holding one cannot be stored as text. RapidJSON 1.1 refuses a lone high
    // surrogate but turns a lone low one into the bytes ED B0 80: both must be refused.
    for (const char* s :
         {R"({"a":"\udc00"})", R"({"a":"\uDFFF"})", R"({"a":"x\udc00y"})", R"({"\udc00":1})",
          R"({"a":["\udc00"]})", R"({"a":{"\udc00":1}})", R"({"a":"\udc00\ud83d\ude00"})",
          R"({"a":"\ud83d\ude00\ude00"})", R"({"a":"\ud800"})", R"({"a":"\ud800x"})",
          R"({"a":"\udbff\u0041"})", R"({"a":"\ud800\ud800"})", R"({"a":"\udc00\ud800"})",
          R"({"a":"\udc00\ud800\udc00"})"}) {
        members_of(s, json_error::kind::syntax);
    }
    std::string m;
    const json_error e = normalize_object(R"({"ok":1,"a":"\udc00"})", json_limits{}, m);
    EXPECT_NE(e.detail.find("surrogate"), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find("at byte 19"), std::string::npos) << e.detail; // its closing quote
    EXPECT_EQ(m, "");
}

TEST(json_object, keeps_surrogate_pairs_byte_for_byte) {
    EXPECT_EQ(members_of(R"({"a":"\ud800\udc00","\uD83D\uDE00":"\udbff\udfff"})"),
              R"("a":"\ud800\udc00","\uD83D\uDE00":"\udbff\udfff")");
    EXPECT_EQ(members_of("{\"a\":\"\xf0\x9f\x98\x80\xed\x9f\xbf\xee\x80\x80\"}"),
              "\"a\":\"\xf0\x9f\x98\x80\xed\x9f\xbf\xee\x80\x80\""); // U+1F600 U+D7FF U+E000
}

TEST(json_object, nesting_limit) {
    members_of(R"({"a":[[1]]})", json_error::kind::none, 3);
    members_of(R"({"a":[[[1]]]})", json_error::kind::too_deep, 3);
    const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    members_of(deep, json_error::kind::too_deep);
}

} // namespace
} // namespace hs::app
