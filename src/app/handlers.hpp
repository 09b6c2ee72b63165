#pragma once
/// \file The handlers behind the endpoint table (routes.cpp), one function each.
#include "app/routes.hpp"

namespace hs::app {

response get_root(const request& rq, const path_params& p);
response get_echo(const request& rq, const path_params& p);

/// The /data handlers share the store and the API options.
class data_handlers {
public:
    data_handlers(store::document_store& s, const api_options& o) : store_(s), options_(o) {}

    void create(const request& rq, const path_params& p, responder r) const;
    void list(const request& rq, const path_params& p, responder r) const;
    void get(const request& rq, const path_params& p, responder r) const;
    void replace(const request& rq, const path_params& p, responder r) const;
    void patch(const request& rq, const path_params& p, responder r) const;
    void remove(const request& rq, const path_params& p, responder r) const;

private:
    /// The checks every write of one item makes after its media type, in API.md's order: the
    /// body (400, when \p with_body), the id (404), the If-Match policy (428), then reads the
    /// precondition. Sends the refusal and returns false, or fills \p members, \p id, \p pre.
    bool check_write(const request& rq, const path_params& p, responder& r, bool with_body,
                     std::string& members, std::uint64_t& id, store::precondition& pre) const;

    store::document_store& store_;
    api_options options_;
};

} // namespace hs::app
