#pragma once
/// \file How a handler delivers its response, now or after an asynchronous operation.
#include <cstdint>
#include <utility>

#include "hs/message.hpp"

namespace hs {

/// Where a responder's answer goes: implemented by the engine's event loop (one per worker).
/// Handlers never see it; it keeps routing and handlers free of any link to the server layer.
class response_sink {
public:
    /// Takes the answer for request (slot, generation), from any thread.
    virtual void deliver(std::uint32_t slot, std::uint32_t generation, response&& r) noexcept = 0;

protected:
    ~response_sink() = default;
};

/// The one-shot channel back to the connection that sent a request.
///
/// Move-only. send() may be called at once on the loop thread (the common case, no queueing),
/// or later from any thread: the response is then posted to the owning event loop, which writes
/// it if the connection still exists and drops it otherwise. A responder destroyed without
/// sending answers 500, so a lost completion never leaves a client hanging.
class responder {
public:
    responder() = default;
    responder(response_sink* w, std::uint32_t slot, std::uint32_t generation) noexcept
        : worker_(w), slot_(slot), generation_(generation) {}
    responder(responder&& o) noexcept
        : worker_(o.worker_), slot_(o.slot_), generation_(o.generation_) {
        o.worker_ = nullptr;
    }
    responder& operator=(responder&& o) noexcept {
        if (this != &o) {
            abandon();
            worker_ = o.worker_;
            slot_ = o.slot_;
            generation_ = o.generation_;
            o.worker_ = nullptr;
        }
        return *this;
    }
    responder(const responder&) = delete;
    responder& operator=(const responder&) = delete;
    ~responder() { abandon(); }

    /// Delivers the response. Calling it twice, or on a moved-from responder, does nothing.
    void send(response r) noexcept {
        if (worker_ != nullptr) {
            response_sink* w = worker_;
            worker_ = nullptr;
            w->deliver(slot_, generation_, std::move(r));
        }
    }

    /// True until send() has been called or the responder moved from.
    bool pending() const noexcept { return worker_ != nullptr; }

private:
    void abandon() noexcept {
        if (worker_ != nullptr) {
            send(problem(500, "the handler ended without a response"));
        }
    }

    response_sink* worker_ = nullptr;
    std::uint32_t slot_ = 0;
    std::uint32_t generation_ = 0;
};

} // namespace hs
