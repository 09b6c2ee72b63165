#include "routing/query.hpp"

#include "http/chars.hpp"

namespace hs::routing {

bool form_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+') {
            out += ' ';
        } else if (c != '%') {
            out += c;
        } else {
            if (in.size() - i < 3) {
                return false; // '%' needs two hex digits after it
            }
            const int hi = http::chars::hex_value(static_cast<unsigned char>(in[i + 1]));
            const int lo = http::chars::hex_value(static_cast<unsigned char>(in[i + 2]));
            if (hi < 0 || lo < 0) {
                return false;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        }
    }
    return true;
}

std::optional<std::string_view> find_param(std::string_view query, std::string_view name) {
    std::string decoded;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const bool same = key == name || (form_decode(key, decoded) && decoded == name);
        if (same) {
            return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        }
    }
    return std::nullopt;
}

} // namespace hs::routing
