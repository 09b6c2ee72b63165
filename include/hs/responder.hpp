#pragma once
/// \file How a handler delivers its response, now or after an asynchronous operation.
#include <utility>

#include "hs/message.hpp"

namespace hs {

/// The engine's side of one request in flight (implemented by the server; tests may implement
/// it too). A responder holds a counted reference to it: the sink, and the request and path
/// parameters the handler was given, stay valid until deliver() has been called, even when the
/// connection is closed in the meantime. deliver() releases that reference.
class response_sink {
public:
    /// Takes the answer, exactly once, from any thread.
    virtual void deliver(response&& r) noexcept = 0;

protected:
    ~response_sink() = default;
};

/// The one-shot channel back to the connection that sent a request.
///
/// Move-only. send() may be called at once on the loop thread (the common case, no queueing),
/// or later from any thread: the response is then posted to the owning event loop, which writes
/// it if the connection still waits for it and drops it otherwise. A responder destroyed
/// without sending answers 500, so a lost completion never leaves a client hanging.
///
/// Lifetime: the request and path_params a handler receives stay valid until its responder
/// has sent (or is destroyed), on whatever thread that happens; not after.
class responder {
public:
    responder() = default;
    explicit responder(response_sink* sink) noexcept : sink_(sink) {}
    responder(responder&& o) noexcept : sink_(std::exchange(o.sink_, nullptr)) {}
    responder& operator=(responder&& o) noexcept {
        if (this != &o) {
            abandon();
            sink_ = std::exchange(o.sink_, nullptr);
        }
        return *this;
    }
    responder(const responder&) = delete;
    responder& operator=(const responder&) = delete;
    ~responder() { abandon(); }

    /// Delivers the response. Calling it twice, or on a moved-from responder, does nothing.
    void send(response r) noexcept {
        if (sink_ != nullptr) {
            std::exchange(sink_, nullptr)->deliver(std::move(r));
        }
    }

    /// True until send() has been called or the responder moved from.
    bool pending() const noexcept { return sink_ != nullptr; }

private:
    void abandon() noexcept {
        if (sink_ != nullptr) {
            send(problem(500, "the handler ended without a response"));
        }
    }

    response_sink* sink_ = nullptr;
};

} // namespace hs
