#include "hs/router.hpp"

#include <algorithm>

#include "http/serializer.hpp"

namespace hs {

struct router::node {
    std::vector<std::pair<std::string, std::unique_ptr<node>>> literal; ///< beats the parameter
    std::string param_name;                                             ///< for the `{name}` child
    std::unique_ptr<node> param;
    std::vector<std::pair<std::string, handler>> methods;
    std::string allow; ///< "GET, HEAD, OPTIONS", built as methods are added

    const handler* find(std::string_view m) const noexcept {
        for (const auto& [name, h] : methods) {
            if (name == m) {
                return &h;
            }
        }
        return nullptr;
    }
};

namespace {

/// Splits off the first segment of \p path (which starts after a '/').
std::string_view next_segment(std::string_view& rest) noexcept {
    const auto slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return seg;
}

bool is_param(std::string_view seg) noexcept {
    return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// The order methods appear in Allow: the usual reading order, then anything else.
int method_rank(std::string_view m) noexcept {
    static constexpr std::string_view order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    const auto* it = std::find(std::begin(order), std::end(order), m);
    return static_cast<int>(it - std::begin(order));
}

} // namespace

router::router() : root_(std::make_unique<node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

void router::add(std::string_view method, std::string_view pattern, handler h) {
    node* n = root_.get();
    std::string_view rest = pattern.substr(pattern.empty() ? 0 : 1);
    while (!rest.empty()) {
        const std::string_view seg = next_segment(rest);
        if (is_param(seg)) {
            if (!n->param) {
                n->param = std::make_unique<node>();
                n->param_name = std::string(seg.substr(1, seg.size() - 2));
            }
            n = n->param.get();
            continue;
        }
        auto it = std::find_if(n->literal.begin(), n->literal.end(),
                               [&](const auto& c) { return c.first == seg; });
        if (it == n->literal.end()) {
            n->literal.emplace_back(std::string(seg), std::make_unique<node>());
            it = std::prev(n->literal.end());
        }
        n = it->second.get();
    }
    n->methods.emplace_back(std::string(method), std::move(h));

    // Allow = the methods of this path + HEAD where GET is served + OPTIONS (RFC 9110 §10.2.1).
    std::vector<std::string> names;
    for (const auto& m : n->methods) {
        names.push_back(m.first);
    }
    if (n->find("GET") != nullptr && n->find("HEAD") == nullptr) {
        names.emplace_back("HEAD");
    }
    std::stable_sort(names.begin(), names.end(),
                     [](const auto& a, const auto& b) { return method_rank(a) < method_rank(b); });
    names.emplace_back("OPTIONS");
    n->allow.clear();
    for (const auto& m : names) {
        n->allow += n->allow.empty() ? "" : ", ";
        n->allow += m;
        if (std::find(methods_.begin(), methods_.end(), m) == methods_.end()) {
            methods_.push_back(m);
        }
    }
    std::stable_sort(methods_.begin(), methods_.end(), [](const auto& a, const auto& b) {
        return (a == "OPTIONS" ? 99 : method_rank(a)) < (b == "OPTIONS" ? 99 : method_rank(b));
    });
    all_methods_.clear();
    for (const auto& m : methods_) {
        all_methods_ += all_methods_.empty() ? "" : ", ";
        all_methods_ += m;
    }
}

std::string_view router::all_methods() const noexcept {
    return all_methods_;
}

router::match router::find(std::string_view method, std::string_view path,
                           path_params& params) const {
    params.clear();
    // A method that is neither standard (RFC 9110 §9, RFC 5789) nor served by some route is one
    // this server does not implement: 501 (RFC 9110 §15.6.2). A known one gets 405 below.
    static constexpr std::string_view standard[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    if (std::find(std::begin(standard), std::end(standard), method) == std::end(standard) &&
        std::find(methods_.begin(), methods_.end(), method) == methods_.end()) {
        return {match::kind::not_implemented, nullptr, {}};
    }
    if (path == "*") {
        return {match::kind::options, nullptr, all_methods_};
    }
    if (path.empty() || path.front() != '/') {
        return {match::kind::not_found, nullptr, {}};
    }
    // Every segment counts, empty ones included: "/data/" is not "/data" (no silent aliasing).
    const node* n = root_.get();
    if (path != "/") {
        std::string_view rest = path.substr(1);
        for (bool last = false; n != nullptr && !last;) {
            last = rest.find('/') == std::string_view::npos;
            const std::string_view seg = next_segment(rest);
            const node* next = nullptr;
            for (const auto& [name, child] : n->literal) {
                if (name == seg) {
                    next = child.get();
                    break;
                }
            }
            if (next == nullptr && n->param && !seg.empty()) {
                params.push(n->param_name, seg);
                next = n->param.get();
            }
            n = next;
        }
    }
    if (n == nullptr || n->methods.empty()) {
        return {match::kind::not_found, nullptr, {}};
    }
    if (const handler* h = n->find(method)) {
        return {match::kind::found, h, n->allow};
    }
    if (method == "HEAD") {
        if (const handler* h = n->find("GET")) {
            return {match::kind::found, h, n->allow};
        }
    }
    if (method == "OPTIONS") {
        return {match::kind::options, nullptr, n->allow};
    }
    return {match::kind::method_not_allowed, nullptr, n->allow};
}

void router::dispatch(const request& rq, path_params& params, responder r) const {
    params.clear();
    const match m = find(rq.method, rq.path, params);
    switch (m.what) {
    case match::kind::found:
        (*m.target)(rq, params, std::move(r));
        return;
    case match::kind::not_found:
        r.send(problem(404, "no resource at this path"));
        return;
    case match::kind::not_implemented:
        r.send(problem(501, "this server does not implement the method"));
        return;
    case match::kind::options: {
        response res;
        res.status = 204;
        res.headers.emplace_back("Allow", std::string(m.allow));
        r.send(std::move(res));
        return;
    }
    case match::kind::method_not_allowed: {
        response res = problem(405, "this path does not allow the method; see the Allow header");
        res.headers.emplace_back("Allow", std::string(m.allow));
        r.send(std::move(res));
        return;
    }
    }
}

} // namespace hs
