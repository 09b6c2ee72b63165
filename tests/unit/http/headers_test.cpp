#include "http/headers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hs::http {
namespace {

using namespace std::string_view_literals;

TEST(headers, valid_field_name_is_a_token) {
    for (const std::string_view ok :
         {"Location"sv, "x"sv, "X-Custom-1"sv, "!#$%&'*+-.^_`|~"sv, "0"sv, "accept-post"sv}) {
        EXPECT_TRUE(valid_field_name(ok)) << ok;
    }
    for (const std::string_view bad :
         {""sv, "X Y"sv, "X:"sv, ":x"sv, "X\r\nY"sv, "X\n"sv, "\0X"sv, "X\tY"sv, "a(b)"sv,
          "a\"b\""sv, "a/b"sv, "a,b"sv, "{}"sv, "\x7f"sv, "\xc3\xa9"sv, " X"sv, "X "sv}) {
        EXPECT_FALSE(valid_field_name(bad)) << bad;
    }
}

TEST(headers, valid_field_value_refuses_what_could_split_a_response) {
    for (const std::string_view ok :
         {""sv, "v"sv, "/data/1"sv, "a b\tc"sv, "GET, HEAD"sv, "\"quoted\""sv, "caf\xc3\xa9"sv,
          "\x80\xff"sv, "~!@#$%^&*()_+{}|:<>?"sv, "1"sv}) {
        EXPECT_TRUE(valid_field_value(ok)) << ok;
    }
    for (const std::string_view bad :
         {"a\r\nSet-Cookie: x=1"sv, "a\rb"sv, "a\nb"sv, "\r\n"sv, "a\0b"sv, "\0"sv, "a\x7f"sv,
          "a\x01"sv, "a\x1f"sv, "a\vb"sv, " a"sv, "a "sv, "\ta"sv, "a\t"sv, " "sv, "\t"sv,
          "a \r\n"sv}) {
        EXPECT_FALSE(valid_field_value(bad)) << std::string(bad).size();
    }
}

} // namespace
} // namespace hs::http
