#include "app/routes.hpp"

#include <memory>

#include "app/handlers.hpp"
#include "http/headers.hpp"

namespace hs::app {

void register_api(router& r, store::document_store& store, const api_options& options) {
    auto data = std::make_shared<const data_handlers>(store, options);
    auto bind = [data](void (data_handlers::*fn)(const request&, const path_params&, responder)
                           const) {
        return handler([data, fn](const request& rq, const path_params& p, responder res) {
            ((*data).*fn)(rq, p, std::move(res));
        });
    };
    // The endpoint table of API.md. HEAD follows GET and OPTIONS is answered by the router.
    r.add("GET", "/", get_root);
    r.add("GET", "/echo", get_echo);
    r.add("POST", "/data", bind(&data_handlers::create));
    r.add("GET", "/data", bind(&data_handlers::list));
    r.add("GET", "/data/{id}", bind(&data_handlers::get));
    r.add("PUT", "/data/{id}", bind(&data_handlers::replace));
    r.add("PATCH", "/data/{id}", bind(&data_handlers::patch));
    r.add("DELETE", "/data/{id}", bind(&data_handlers::remove));
}

bool is_json_media_type(std::string_view content_type) noexcept {
    const std::string_view type = http::trim_ows(content_type.substr(0, content_type.find(';')));
    const auto slash = type.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) {
        return false;
    }
    if (iequals(type, "application/json")) {
        return true;
    }
    const std::string_view subtype = type.substr(slash + 1);
    return subtype.size() > 5 && iequals(subtype.substr(subtype.size() - 5), "+json");
}

std::uint64_t parse_id(std::string_view text) noexcept {
    constexpr std::uint64_t max = 9'223'372'036'854'775'807ULL; // 2^63 - 1
    if (text.empty() || text.size() > 19 || text[0] == '0') {
        return 0;
    }
    std::uint64_t v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return 0;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v <= max ? v : 0;
}

} // namespace hs::app
