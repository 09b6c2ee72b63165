#pragma once
/// \file What a worker thread offers to the code that runs on it: its loop and a slot for
/// per-worker state (a store's database connection, a cache), set by a start hook.
#include <memory>

namespace hs::net {
class loop;
}

namespace hs {

/// One per worker thread, alive from before its start hook until after its stop hook. Handlers
/// reach it as `request::worker`, on that worker's thread.
struct worker_context {
    net::loop& loop;             ///< the worker's event loop: register descriptors and timers on it
    unsigned index = 0;          ///< 0 .. threads-1
    std::shared_ptr<void> state; ///< whatever the start hook built for this worker

    /// The state as the type the start hook stored.
    template <class T> T& state_as() const noexcept { return *static_cast<T*>(state.get()); }
};

} // namespace hs
