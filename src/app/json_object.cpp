#include "app/json_object.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstring>
#include <vector>

namespace hs::app {
namespace {

/// SAX handler: validates structure and remembers which top-level members are named "id".
/// Values are not stored: the text is copied afterwards from the validated bytes.
struct checker : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, checker> {
    std::size_t max_depth = 0;
    std::size_t depth = 0;
    bool not_object = false;
    bool too_deep = false;
    bool lone_surrogate = false;
    std::vector<bool> member_is_id; // one per top-level member, in order

    bool Default() {
        if (depth == 0) {
            not_object = true;
            return false;
        }
        return true;
    }
    bool StartObject() { return enter(); }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool StartArray() {
        if (depth == 0) {
            not_object = true;
            return false;
        }
        return enter();
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (depth == 0) {
            not_object = true;
            return false;
        }
        return no_surrogate(s, n);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (depth == 1) {
            member_is_id.push_back(n == 2 && s[0] == 'i' && s[1] == 'd');
        }
        return no_surrogate(s, n);
    }
    /// RapidJSON 1.1 refuses a high surrogate escape without a low one after it, but decodes
    /// a lone low surrogate ("\udc00") to ED B0 80, the UTF-8 form of a code point UTF-8 may
    /// not encode (RFC 3629 §3). Raw input bytes are validated as UTF-8 and a valid pair decodes
    /// to one four-byte sequence, so ED followed by A0..BF in a decoded string is exactly a lone
    /// surrogate.
    bool no_surrogate(const char* s, rapidjson::SizeType n) {
        const char* const end = s + n;
        for (const void* hit = std::memchr(s, 0xed, n); hit != nullptr;) {
            const char* p = static_cast<const char*>(hit) + 1;
            if (p < end && static_cast<unsigned char>(*p) >= 0xa0) {
                lone_surrogate = true;
                return false;
            }
            hit = std::memchr(p, 0xed, static_cast<std::size_t>(end - p));
        }
        return true;
    }
    bool enter() {
        if (++depth > max_depth) {
            too_deep = true;
            return false;
        }
        return true;
    }
};

bool is_ws(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// Walks validated JSON text of one object and appends its members, minified, skipping the
/// members flagged in \p skip.
void copy_members(std::string_view text, const std::vector<bool>& skip, std::string& out) {
    std::size_t i = text.find('{') + 1;
    std::size_t member = 0;
    int depth = 0;
    bool in_string = false;
    bool first = true;
    bool copying = false;
    bool expect_key = true;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            // The text is valid JSON: copy up to the next quote or backslash in one go.
            std::size_t j = i;
            while (j < text.size() && text[j] != '"' && text[j] != '\\') {
                ++j;
            }
            if (copying) {
                out.append(text.data() + i, j - i);
            }
            i = j;
            if (i == text.size()) {
                return;
            }
            if (text[i] == '\\') { // an escape: its next byte is never the closing quote
                if (copying) {
                    out.append(text.data() + i, 2);
                }
                ++i;
                continue;
            }
            if (copying) {
                out += '"';
            }
            in_string = false;
            continue;
        }
        if (is_ws(c)) {
            continue;
        }
        if (depth == 0 && (c == ',' || c == '}')) {
            ++member;
            copying = false;
            expect_key = true;
            if (c == '}') {
                return;
            }
            continue;
        }
        if (depth == 0 && expect_key && c == '"') {
            expect_key = false;
            copying = !skip[member]; // start of a member's key
            if (copying && !first) {
                out += ',';
            }
            first = first && !copying;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        }
        if (copying) {
            out += c;
        }
    }
}

} // namespace

json_error normalize_object(std::string_view body, const json_limits& limits,
                            std::string& members) {
    members.clear();
    std::size_t start = 0;
    while (start < body.size() && is_ws(body[start])) {
        ++start;
    }
    if (start == body.size()) {
        return {json_error::kind::empty, "the request body is empty; send a JSON object"};
    }
    checker h;
    h.max_depth = limits.max_depth;
    rapidjson::MemoryStream ms(body.data(), body.size());
    rapidjson::Reader reader;
    constexpr unsigned flags =
        rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag |
        rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseStopWhenDoneFlag;
    const rapidjson::ParseResult ok = reader.Parse<flags>(ms, h);
    if (h.not_object) {
        return {json_error::kind::not_object, "the body must be a JSON object ({...})"};
    }
    if (h.too_deep) {
        return {json_error::kind::too_deep,
                "the JSON nests deeper than " + std::to_string(limits.max_depth) + " levels"};
    }
    if (h.lone_surrogate) {
        return {json_error::kind::syntax,
                "the body is not valid JSON: a \\u escape is a lone UTF-16 surrogate (in the "
                "string that ends at byte " +
                    std::to_string(ok.Offset() - 1) + ")"};
    }
    if (ok.IsError()) {
        return {json_error::kind::syntax, std::string("the body is not valid JSON: ") +
                                              rapidjson::GetParseError_En(ok.Code()) +
                                              " (at byte " + std::to_string(ok.Offset()) + ")"};
    }
    // kParseStopWhenDoneFlag stops after the root value; anything but whitespace after it
    // (a NUL byte included, which a NUL-terminated reader would take for the end) is refused.
    for (std::size_t i = ms.Tell(); i < body.size(); ++i) {
        if (!is_ws(body[i])) {
            return {json_error::kind::syntax, "the body is not valid JSON: unexpected bytes after "
                                              "the object (at byte " +
                                                  std::to_string(i) + ")"};
        }
    }
    std::size_t ids = 0;
    for (const bool is_id : h.member_is_id) {
        ids += is_id ? 1 : 0;
    }
    if (ids > 1) {
        return {json_error::kind::duplicate_id, "the object has more than one \"id\" member"};
    }
    members.reserve(body.size());
    copy_members(body, h.member_is_id, members);
    return {};
}

} // namespace hs::app
