#include <string>

#include "hs/message.hpp"

namespace hs {
namespace {
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
}
} // namespace

response problem(int status, std::string_view detail) {
    response r;
    r.status = status;
    r.content_type = "application/problem+json";
    r.body.reserve(96 + detail.size());
    r.body += R"({"type":"about:blank","title":)";
    append_json_string(r.body, reason_phrase(status));
    r.body += R"(,"status":)";
    r.body += std::to_string(status);
    r.body += R"(,"detail":)";
    append_json_string(r.body, detail);
    r.body += '}';
    return r;
}

} // namespace hs
