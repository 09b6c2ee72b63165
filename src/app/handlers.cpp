#include "app/handlers.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "app/conditional.hpp"
#include "app/merge_patch.hpp"
#include "http/headers.hpp"
#include "routing/query.hpp"

namespace hs::app {
namespace {

constexpr std::string_view json_type = "application/json";
constexpr std::string_view merge_patch_type = "application/merge-patch+json";
constexpr std::size_t max_page = 1000;
constexpr std::uint64_t max_id = 9'223'372'036'854'775'807ULL; // 2^63 - 1

response unavailable() {
    response r = problem(503, "the data store is unavailable; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

response insufficient_storage() {
    return problem(507, "the data store's disk is full: the write was not made; retry once "
                        "space is freed");
}

response no_item(std::string_view id_text) {
    return problem(404, "no item with id " + std::string(id_text) +
                            " (ids are decimal integers from 1 to 9223372036854775807)");
}

response with_etag(response r, std::string_view prefix, std::uint64_t version) {
    make_etag(r.etag, prefix, version);
    return r;
}

/// Maps a store result to the response of a read or write of one item.
response item_response(store::item_result&& res, int ok_status, std::string_view prefix) {
    switch (res.what) {
    case store::item_result::status::ok:
        return with_etag(response(ok_status, std::string(json_type), std::move(res.json)), prefix,
                         res.version);
    case store::item_result::status::not_found:
        return no_item(std::to_string(res.id));
    case store::item_result::status::precondition_failed:
        // The current ETag helps a client that wants to re-read and retry.
        return with_etag(problem(412, "the item changed since the ETag in If-Match (or matches "
                                      "If-None-Match): fetch it again, then retry"),
                         prefix, res.version);
    case store::item_result::status::storage_full:
        return insufficient_storage();
    case store::item_result::status::edit_refused: // only PATCH asks for it (see patch)
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

/// The media type without parameters equals \p want (case-insensitively).
bool media_type_is(std::string_view content_type, std::string_view want) noexcept {
    return iequals(http::trim_ows(content_type.substr(0, content_type.find(';'))), want);
}

/// Reads If-Match / If-None-Match into the store's precondition for a write (RFC 9110 §13.1.1,
/// §13.1.2): If-Match compares strongly, If-None-Match weakly; a malformed If-Match matches
/// nothing (the write never happens), a malformed If-None-Match is ignored. With
/// --require-if-match, a write without If-Match is answered 428 here.
std::optional<response> write_precondition(const request& rq, std::string_view prefix,
                                           bool require_if_match, store::precondition& pre) {
    const conditions c = read_conditions(rq);
    const tag_list& im = c.if_match;
    if (require_if_match && !im.present) {
        return problem(428, "this server requires If-Match on PUT, PATCH and DELETE: send the "
                            "item's ETag (from GET) in If-Match");
    }
    if (im.present && !(im.any && !im.malformed)) {
        pre.any_version = false;
        if (!im.malformed) {
            for (const tag_list::tag& t : im.tags) {
                if (!t.weak) {
                    if (const auto v = version_of(t.opaque, prefix)) {
                        pre.versions.push_back(*v);
                    }
                }
            }
        }
    }
    const tag_list& inm = c.if_none_match;
    if (inm.present && !inm.malformed) {
        pre.fail_if_exists = inm.any;
        for (const tag_list::tag& t : inm.tags) {
            if (const auto v = version_of(t.opaque, prefix)) {
                pre.not_versions.push_back(*v);
            }
        }
    }
    return std::nullopt;
}

/// A canonical decimal ("0" or no leading zero) not above \p max; nullopt otherwise.
std::optional<std::uint64_t> canonical_decimal(std::string_view text, std::uint64_t max) noexcept {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > max) {
        return std::nullopt;
    }
    return v;
}

/// Appends the items of a page to a JSON array being built; \p first: no item written yet.
void append_items(std::string& out, const std::vector<store::item>& items, bool& first) {
    for (const store::item& it : items) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += it.json;
    }
}

/// `[` and the page's items: the start of a listing's array.
std::string open_array(const std::vector<store::item>& items) {
    std::string out = "[";
    bool first = true;
    append_items(out, items, first);
    return out;
}

/// A streamed listing's pieces are one store page each: up to max_page items and about this
/// many bytes (the store stops after the item that reaches it).
constexpr std::size_t piece_bytes = 32 * 1024;
constexpr std::size_t first_page = 64; // a small store is one page: a plain, sized response
/// An explicit page (`?limit=`) stops at this many bytes too (fewer items, with its Link).
constexpr std::size_t max_page_bytes = 4 * 1024 * 1024;

/// The rest of a `GET /data` walk after its first page: one store page per piece, asked for
/// only when the connection has room for it, and no lock held across pages.
class list_stream final : public body_source {
public:
    list_stream(store::document_store& s, std::uint64_t after) : store_(s), after_(after) {}

    void produce(piece_channel next) override {
        store_.list(
            after_, max_page, piece_bytes,
            [this, next = std::move(next)](store::list_result page) mutable {
                if (page.what != store::item_result::status::ok) {
                    next.fail(); // the head (200) is out: the body is cut off, never faked whole
                    return;
                }
                std::string piece;
                bool first = false;
                append_items(piece, page.items, first);
                if (page.more && !page.items.empty()) {
                    after_ = page.items.back().id;
                    next.more(std::move(piece)); // the last use of this object (see piece_channel)
                    return;
                }
                piece += ']';
                next.last(std::move(piece));
            });
    }

private:
    store::document_store& store_;
    std::uint64_t after_;
};

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
    store_.create(std::move(members), [this, r = std::move(r)](store::item_result res) mutable {
        if (res.what != store::item_result::status::ok) {
            r.send(res.what == store::item_result::status::storage_full ? insufficient_storage()
                                                                        : unavailable());
            return;
        }
        const std::string location = "/data/" + std::to_string(res.id);
        response out(201, std::string(json_type), std::move(res.json));
        out.headers.emplace_back("Location", location);
        r.send(with_etag(std::move(out), store_.etag_prefix(), res.version));
    });
}

void data_handlers::list(const request& rq, const path_params&, responder r) const {
    std::uint64_t after = 0;
    if (const auto a = routing::find_param(rq.query, "after")) {
        const auto v = canonical_decimal(*a, max_id);
        if (!v) {
            r.send(problem(400, "'after' must be a decimal id from 0 to 9223372036854775807"));
            return;
        }
        after = *v;
    }
    const auto limit_text = routing::find_param(rq.query, "limit");
    if (!limit_text) {
        // The first page answers here (503 while nothing is sent yet); a store larger than it is
        // streamed after it.
        store_.list(after, first_page, piece_bytes,
                    [this, r = std::move(r)](store::list_result page) mutable {
                        if (page.what != store::item_result::status::ok) {
                            r.send(unavailable());
                            return;
                        }
                        std::string out = open_array(page.items);
                        if (!page.more || page.items.empty()) {
                            out += ']';
                            r.send(response(200, std::string(json_type), std::move(out)));
                            return;
                        }
                        response res(200, std::string(json_type), std::move(out));
                        res.stream = std::make_unique<list_stream>(store_, page.items.back().id);
                        r.send(std::move(res));
                    });
        return;
    }
    const auto limit = canonical_decimal(*limit_text, max_page);
    if (!limit || *limit == 0) {
        r.send(problem(400, "'limit' must be a decimal number from 1 to 1000"));
        return;
    }
    store_.list(after, *limit, max_page_bytes,
                [r = std::move(r), n = *limit](store::list_result page) mutable {
                    if (page.what != store::item_result::status::ok) {
                        r.send(unavailable());
                        return;
                    }
                    std::string out = open_array(page.items);
                    out += ']';
                    response res(200, std::string(json_type), std::move(out));
                    if (page.more && !page.items.empty()) {
                        res.headers.emplace_back(
                            "Link", "</data?limit=" + std::to_string(n) + "&after=" +
                                        std::to_string(page.items.back().id) + ">; rel=\"next\"");
                    }
                    r.send(std::move(res));
                });
}

void data_handlers::get(const request& rq, const path_params& p, responder r) const {
    const std::string_view text = p.get("id");
    const std::uint64_t id = parse_id(text);
    if (id == 0) {
        r.send(no_item(text));
        return;
    }
    // The request stays valid until r sends (hs::responder), so the callback reads its fields.
    store_.get(id, [this, &rq, r = std::move(r)](store::item_result res) mutable {
        if (res.what != store::item_result::status::ok) {
            r.send(item_response(std::move(res), 200, store_.etag_prefix()));
            return;
        }
        const std::string_view prefix = store_.etag_prefix();
        entity_tag tag;
        make_etag(tag, prefix, res.version);
        switch (classify_read(rq, tag.value())) {
        case quick_read::unconditional: {
            response ok(200, std::string(json_type), std::move(res.json));
            ok.etag = tag;
            r.send(std::move(ok));
            return;
        }
        case quick_read::not_modified: {
            response nm;
            nm.status = 304;
            nm.etag = tag;
            r.send(std::move(nm));
            return;
        }
        case quick_read::needs_parsing:
            break;
        }
        // RFC 9110 §13.2.2: If-Match first (412), then If-None-Match (304 on GET and HEAD).
        const conditions c = read_conditions(rq);
        const tag_list& im = c.if_match;
        if (im.present && (im.malformed || !matches(im, prefix, res.version, false))) {
            res.what = store::item_result::status::precondition_failed;
            r.send(item_response(std::move(res), 200, prefix));
            return;
        }
        const tag_list& inm = c.if_none_match;
        if (inm.present && !inm.malformed && matches(inm, prefix, res.version, true)) {
            response nm;
            nm.status = 304;
            r.send(with_etag(std::move(nm), prefix, res.version));
            return;
        }
        r.send(item_response(std::move(res), 200, prefix));
    });
}

bool data_handlers::check_write(const request& rq, const path_params& p, responder& r,
                                bool with_body, std::string& members, std::uint64_t& id,
                                store::precondition& pre) const {
    const std::string_view text = p.get("id");
    id = parse_id(text);
    if (with_body) {
        if (auto refused = read_object(rq, options_.json, members)) {
            r.send(std::move(*refused));
            return false;
        }
    }
    if (id == 0) {
        r.send(no_item(text));
        return false;
    }
    if (auto refused =
            write_precondition(rq, store_.etag_prefix(), options_.require_if_match, pre)) {
        r.send(std::move(*refused));
        return false;
    }
    return true;
}

void data_handlers::replace(const request& rq, const path_params& p, responder r) const {
    // The seed requires `Content-Type: application/json` on PUT: absent is refused too.
    const auto type = rq.header_value("content-type");
    if (!type || !is_json_media_type(*type)) {
        r.send(unsupported_type("PUT", !type));
        return;
    }
    std::string members;
    std::uint64_t id = 0;
    store::precondition pre;
    if (!check_write(rq, p, r, true, members, id, pre)) {
        return;
    }
    store_.replace(id, std::move(members), std::move(pre),
                   [this, r = std::move(r)](store::item_result res) mutable {
                       r.send(item_response(std::move(res), 200, store_.etag_prefix()));
                   });
}

void data_handlers::patch(const request& rq, const path_params& p, responder r) const {
    const auto type = rq.header_value("content-type");
    if (!type || !media_type_is(*type, merge_patch_type)) {
        response refused = problem(415, "PATCH takes a JSON Merge Patch (RFC 7396): send "
                                        "'Content-Type: application/merge-patch+json'");
        refused.headers.emplace_back("Accept-Patch", std::string(merge_patch_type));
        r.send(std::move(refused));
        return;
    }
    std::string patch_members; // an "id" in the patch is dropped here: the id is not the client's
    std::uint64_t id = 0;
    store::precondition pre;
    if (!check_write(rq, p, r, true, patch_members, id, pre)) {
        return;
    }
    const std::size_t max_members = options_.max_item_bytes;
    store_.modify(
        id,
        [patch = std::move(patch_members),
         max_members](std::string_view current) -> std::optional<std::string> {
            std::string merged = merge_patch(current, patch);
            // `{"id":N,` + members + `}` must stay within the limit a PUT has.
            if (merged.size() + 32 > max_members) {
                return std::nullopt;
            }
            return merged;
        },
        std::move(pre),
        [this, r = std::move(r), max_members](store::item_result res) mutable {
            if (res.what == store::item_result::status::edit_refused) {
                r.send(problem(413, "the patched item would be larger than " +
                                        std::to_string(max_members) +
                                        " bytes (--max-body-bytes); nothing was changed"));
                return;
            }
            r.send(item_response(std::move(res), 200, store_.etag_prefix()));
        });
}

void data_handlers::remove(const request& rq, const path_params& p, responder r) const {
    std::string none;
    std::uint64_t id = 0;
    store::precondition pre;
    if (!check_write(rq, p, r, false, none, id, pre)) {
        return;
    }
    store_.remove(id, std::move(pre), [this, r = std::move(r)](store::item_result res) mutable {
        if (res.what == store::item_result::status::ok) {
            response out;
            out.status = 204;
            r.send(std::move(out));
            return;
        }
        r.send(item_response(std::move(res), 204, store_.etag_prefix()));
    });
}

} // namespace hs::app
