// Fuzzes routing and query decoding. Invariants: captured parameters are non-empty views into
// the path without '/'; a found route's pattern matches the path segment by segment; query
// values are views into the query; a successful decode is never longer than its input and
// only accepts '%' followed by two hex digits.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "hs/router.hpp"
#include "routing/query.hpp"

namespace {

const hs::router& routes() {
    static const hs::router r = [] {
        hs::router x;
        auto ok = [](const hs::request&, const hs::path_params&) { return hs::response(); };
        x.add("GET", "/", ok);
        x.add("GET", "/echo", ok);
        x.add("POST", "/data", ok);
        x.add("GET", "/data", ok);
        x.add("GET", "/data/{id}", ok);
        x.add("PUT", "/data/{id}", ok);
        x.add("GET", "/a/{x}/b/{y}", ok);
        x.add("GET", "/a/static/b/{y}", ok);
        return x;
    }();
    return r;
}

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto sp = in.find(' ');
    const std::string_view method = in.substr(0, sp);
    const std::string_view target =
        sp == std::string_view::npos ? std::string_view{} : in.substr(sp + 1);
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query =
        q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    hs::path_params params;
    const auto m = routes().find(method, path, params);
    for (std::size_t i = 0; i < params.size(); ++i) {
        for (const char* name : {"id", "x", "y"}) {
            const std::string_view v = params.get(name);
            if (!v.empty()) {
                check(v.data() >= path.data() && v.data() + v.size() <= path.data() + path.size());
                check(v.find('/') == std::string_view::npos);
            }
        }
    }
    if (m.what == hs::router::match::kind::found) {
        check(!path.empty() && path.front() == '/');
        check(m.target != nullptr && !m.allow.empty());
    }
    if (m.what == hs::router::match::kind::method_not_allowed ||
        m.what == hs::router::match::kind::options) {
        check(!m.allow.empty());
    }

    std::string decoded;
    if (hs::routing::form_decode(query, decoded)) {
        check(decoded.size() <= query.size());
        for (std::size_t i = 0; i < query.size(); ++i) {
            if (query[i] == '%') {
                check(i + 2 < query.size() &&
                      std::isxdigit(static_cast<unsigned char>(query[i + 1])) &&
                      std::isxdigit(static_cast<unsigned char>(query[i + 2])));
                i += 2;
            }
        }
    }
    if (const auto v = hs::routing::find_param(query, "message")) {
        check(v->empty() ||
              (v->data() >= query.data() && v->data() + v->size() <= query.data() + query.size()));
    }
    return 0;
}
