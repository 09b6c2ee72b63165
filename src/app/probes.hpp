#pragma once
/// \file The health probes of API.md, "Operations": `/livez` (the process serves) and `/readyz`
/// (it can serve the API: started, not draining, the store available). `?verbose` lists each
/// check, one per line, as kube-apiserver does.
#include <atomic>
#include <memory>

#include "hs/router.hpp"
#include "store/document_store.hpp"

namespace hs::app {

/// The server's own part of readiness, set by whoever runs it (main): started once it serves,
/// draining from the first stop signal on. Any thread.
class readiness {
public:
    void set_started() noexcept { started_.store(true, std::memory_order_release); }
    void set_draining() noexcept { draining_.store(true, std::memory_order_release); }
    bool started() const noexcept { return started_.load(std::memory_order_acquire); }
    bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }

private:
    std::atomic<bool> started_{false};
    std::atomic<bool> draining_{false};
};

/// Adds GET /livez and GET /readyz. The store and \p state must outlive the server.
void register_probes(router& r, const store::document_store& store,
                     std::shared_ptr<const readiness> state);

} // namespace hs::app
