#include "app/probes.hpp"

#include <string>
#include <vector>

#include "routing/query.hpp"

namespace hs::app {
namespace {

struct check {
    const char* name;
    bool ok;
    const char* why; ///< when it fails
};

/// `ok` (200) or a problem naming the failed checks (503); with `?verbose`, every check as
/// `[+]name ok` / `[-]name failed: why`, then the verdict, as text with either status.
response verdict(const request& rq, const char* probe, const std::vector<check>& checks) {
    bool all = true;
    std::string failed;
    std::string lines;
    for (const check& c : checks) {
        all = all && c.ok;
        lines += c.ok ? std::string("[+]") + c.name + " ok\n"
                      : std::string("[-]") + c.name + " failed: " + c.why + "\n";
        if (!c.ok) {
            failed += failed.empty() ? "" : "; ";
            failed += std::string(c.name) + ": " + c.why;
        }
    }
    const bool verbose = routing::find_param(rq.query, "verbose").has_value();
    response r;
    if (verbose) {
        r = response(all ? 200 : 503, "text/plain; charset=utf-8",
                     lines + probe + (all ? " check passed\n" : " check failed\n"));
    } else if (all) {
        r = response(200, "text/plain; charset=utf-8", "ok\n");
    } else {
        r = problem(503, std::string(probe) + " check failed: " + failed);
    }
    if (!all) {
        r.headers.emplace_back("Retry-After", "1");
    }
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

} // namespace

void register_probes(router& r, const store::document_store& store,
                     std::shared_ptr<const readiness> state) {
    r.add("GET", "/livez", [](const request& rq, const path_params&) {
        return verdict(rq, "livez", {{"ping", true, ""}});
    });
    r.add("GET", "/readyz", [&store, state](const request& rq, const path_params&) {
        return verdict(rq, "readyz",
                       {{"ping", true, ""},
                        {"started", state->started(), "the server is starting"},
                        {"shutdown", !state->draining(), "the server is shutting down"},
                        {"store", store.available(), "the data store is unavailable"}});
    });
}

} // namespace hs::app
