#include "app/handlers.hpp"

#include <string>

#include "routing/query.hpp"

namespace hs::app {
namespace {

constexpr std::string_view json_type = "application/json";

response unavailable() {
    response r = problem(503, "the data store is unavailable; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

response no_item(std::string_view id_text) {
    return problem(404, "no item with id " + std::string(id_text) +
                            " (ids are decimal integers from 1 to 9223372036854775807)");
}

/// Maps a store result to the response of a read or write of one item.
response item_response(store::item_result&& res, int ok_status) {
    switch (res.what) {
    case store::item_result::status::ok:
        return response(ok_status, std::string(json_type), std::move(res.json));
    case store::item_result::status::not_found:
        return no_item(std::to_string(res.id));
    case store::item_result::status::unavailable:
        break;
    }
    return unavailable();
}

/// The members of the body as a JSON object, or the response that refuses it.
std::optional<response> read_object(const request& rq, const json_limits& limits,
                                    std::string& members) {
    const json_error e = normalize_object(rq.body, limits, members);
    if (e) {
        return problem(400, e.detail);
    }
    return std::nullopt;
}

response unsupported_type(std::string_view method, bool missing) {
    response r =
        problem(415, missing ? std::string(method) + " needs 'Content-Type: application/json'"
                             : "the body must be JSON: send 'Content-Type: application/json'");
    if (method == "POST") {
        r.headers.emplace_back("Accept-Post", "application/json");
    }
    return r;
}

} // namespace

response get_root(const request&, const path_params&) {
    return response(200, std::string(json_type), R"({"message":"Welcome to the HTTP server"})");
}

response get_echo(const request& rq, const path_params&) {
    const auto raw = routing::find_param(rq.query, "message");
    if (!raw) {
        return problem(400, "the 'message' query parameter is required, e.g. /echo?message=hello");
    }
    std::string text;
    if (!routing::form_decode(*raw, text)) {
        return problem(400, "the 'message' parameter has a '%' not followed by two hex digits");
    }
    return response(200, "text/plain; charset=utf-8", std::move(text));
}

void data_handlers::create(const request& rq, const path_params&, responder r) const {
    const auto type = rq.header_value("content-type");
    if (type && !is_json_media_type(*type)) {
        r.send(unsupported_type("POST", false));
        return;
    }
    std::string members;
    if (auto refused = read_object(rq, options_.json, members)) {
        r.send(std::move(*refused));
        return;
    }
    store_.create(std::move(members), [r = std::move(r)](store::item_result res) mutable {
        if (res.what != store::item_result::status::ok) {
            r.send(unavailable());
            return;
        }
        const std::string location = "/data/" + std::to_string(res.id);
        response out(201, std::string(json_type), std::move(res.json));
        out.headers.emplace_back("Location", location);
        r.send(std::move(out));
    });
}

void data_handlers::list(const request&, const path_params&, responder r) const {
    store_.list([r = std::move(r)](std::string array) mutable {
        r.send(response(200, std::string(json_type), std::move(array)));
    });
}

void data_handlers::get(const request&, const path_params& p, responder r) const {
    const std::string_view text = p.get("id");
    const std::uint64_t id = parse_id(text);
    if (id == 0) {
        r.send(no_item(text));
        return;
    }
    store_.get(id, [r = std::move(r)](store::item_result res) mutable {
        r.send(item_response(std::move(res), 200));
    });
}

void data_handlers::replace(const request& rq, const path_params& p, responder r) const {
    // The seed requires `Content-Type: application/json` on PUT: absent is refused too.
    const auto type = rq.header_value("content-type");
    if (!type || !is_json_media_type(*type)) {
        r.send(unsupported_type("PUT", !type));
        return;
    }
    const std::string_view text = p.get("id");
    const std::uint64_t id = parse_id(text);
    std::string members;
    if (auto refused = read_object(rq, options_.json, members)) {
        r.send(std::move(*refused));
        return;
    }
    if (id == 0) {
        r.send(no_item(text));
        return;
    }
    store_.replace(id, std::move(members), [r = std::move(r)](store::item_result res) mutable {
        r.send(item_response(std::move(res), 200));
    });
}

void data_handlers::remove(const request&, const path_params& p, responder r) const {
    const std::string_view text = p.get("id");
    const std::uint64_t id = parse_id(text);
    if (id == 0) {
        r.send(no_item(text));
        return;
    }
    store_.remove(id, [r = std::move(r)](store::item_result res) mutable {
        if (res.what == store::item_result::status::ok) {
            response out;
            out.status = 204;
            r.send(std::move(out));
            return;
        }
        r.send(item_response(std::move(res), 204));
    });
}

} // namespace hs::app
