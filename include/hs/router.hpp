#pragma once
/// \file Routes: method + path pattern -> handler, with 404 / 405 / 501 / OPTIONS decided here.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "hs/message.hpp"
#include "hs/responder.hpp"

namespace hs {

/// Values captured by `{name}` segments, as views into the request path (not decoded).
class path_params {
public:
    static constexpr std::size_t max_params = 8;
    void push(std::string_view name, std::string_view value) noexcept {
        if (size_ < max_params) {
            items_[size_++] = {name, value};
        }
    }
    /// The value captured for \p name, or an empty view.
    std::string_view get(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            if (items_[i].first == name) {
                return items_[i].second;
            }
        }
        return {};
    }
    std::size_t size() const noexcept { return size_; }
    void clear() noexcept { size_ = 0; }

private:
    std::pair<std::string_view, std::string_view> items_[max_params];
    std::size_t size_ = 0;
};

/// A handler answers through its responder, now or later. Handlers run concurrently on every
/// worker thread, so they must be thread-safe.
using handler = std::function<void(const request&, const path_params&, responder)>;

/// A segment trie of routes. Build it before the server starts; afterwards it is read-only and
/// shared by all workers without locking.
class router {
public:
    router();
    ~router();
    router(router&&) noexcept;
    router& operator=(router&&) noexcept;

    /// Registers \p h for \p method on \p pattern ("/data/{id}"): literal segments beat `{param}`
    /// segments. HEAD falls back to GET, OPTIONS is answered for every known path.
    void add(std::string_view method, std::string_view pattern, handler h);

    /// Registers a synchronous handler: `response(const request&, const path_params&)`.
    template <class F>
    requires std::is_invocable_r_v<response, F&, const request&, const path_params&>
    void add(std::string_view method, std::string_view pattern, F f) {
        add(method, pattern,
            handler([f = std::move(f)](const request& rq, const path_params& p, responder r) {
                r.send(f(rq, p));
            }));
    }

    /// What a lookup found.
    struct match {
        enum class kind { found, not_found, method_not_allowed, not_implemented, options } what;
        const handler* target = nullptr; ///< set when what == found
        std::string_view allow;          ///< Allow value for 405 and OPTIONS
    };

    /// Finds the handler for \p method on \p path and fills \p params. Pure lookup, no I/O.
    match find(std::string_view method, std::string_view path, path_params& params) const;

    /// Looks the request up and answers it: the handler, or 404 / 405 / 501 / 204 (OPTIONS).
    /// \p params receives the captures and must live as long as \p r (the handler may read it
    /// until it answers).
    void dispatch(const request& rq, path_params& params, responder r) const;

    /// Every method some route accepts, plus HEAD and OPTIONS ("GET, HEAD, POST, OPTIONS").
    std::string_view all_methods() const noexcept;

private:
    struct node;
    std::unique_ptr<node> root_;
    std::vector<std::string> methods_;
    std::string all_methods_;
};

} // namespace hs
