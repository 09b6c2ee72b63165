#include "server/exchange.hpp"

#include "server/worker.hpp"

namespace hs::server_detail {
namespace {

/// The queued form of an answer or a piece (posted from another thread, or deferred on the loop
/// thread): runs on the loop, or, when the loop is gone and the task is destroyed unrun, still
/// releases the reference its sender held.
template <class Payload> class late_delivery {
public:
    late_delivery(exchange* ex, Payload&& p) noexcept : ex_(ex), p_(std::move(p)) {}
    late_delivery(late_delivery&& o) noexcept
        : ex_(std::exchange(o.ex_, nullptr)), p_(std::move(o.p_)) {}
    late_delivery& operator=(late_delivery&&) = delete;
    late_delivery(const late_delivery&) = delete;
    ~late_delivery() {
        if (ex_ != nullptr) {
            ex_->release();
        }
    }
    void operator()() noexcept { std::exchange(ex_, nullptr)->answer_on_loop(std::move(p_)); }

private:
    exchange* ex_;
    Payload p_;
};

/// Hands \p p to \p ex's loop: at once when \p immediate (inside the call that asked for it),
/// deferred when on the loop thread inside some other callback, posted from other threads.
template <class Payload>
void route(exchange& ex, net::mailbox& box, worker& home, bool immediate, Payload&& p) noexcept {
    try {
        if (box.on_loop_thread()) {
            if (immediate) {
                ex.answer_on_loop(std::move(p)); // inside its own call: caught, no queueing
                return;
            }
            // On the loop thread but inside some other callback (a database client's on_io, a
            // timer, another request's handler): the connection must not run re-entrantly
            // there, so the delivery waits until that callback has returned.
            home.loop().defer(late_delivery<Payload>(&ex, std::move(p)));
            return;
        }
        // From another thread. When the loop is gone, the refused task was destroyed and gave
        // the reference back.
        box.post(late_delivery<Payload>(&ex, std::move(p)));
    } catch (...) {
        // Out of memory while queueing: the late_delivery's destructor gave the reference back
        // during the unwinding (never release twice). The outstanding count stays one high, so
        // a drain waits for its deadline, and the handler deadline ends the request.
    }
}

} // namespace

exchange::exchange(worker& home, std::shared_ptr<net::mailbox> box)
    : home_(home), box_(std::move(box)) {}

void exchange::release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        return;
    }
    if (box_->on_loop_thread()) {
        refs_.store(1, std::memory_order_relaxed);
        home_.recycle(this);
    } else {
        delete this;
    }
}

void exchange::deliver(response&& r) noexcept {
    route(*this, *box_, home_, box_->on_loop_thread() && home_.dispatching(*this), std::move(r));
}

void exchange::put(std::string&& piece, kind k) noexcept {
    route(*this, *box_, home_, box_->on_loop_thread() && home_.producing(*this),
          stream_piece{std::move(piece), k});
}

void exchange::answer_on_loop(response&& r) noexcept {
    worker& home = home_;
    home.answered();
    // Drop the responder's reference first: the connection may dispatch its next request (and
    // take a new one) while it handles this answer. If it was the last, nobody waits.
    connection* waiting = conn;
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        refs_.store(1, std::memory_order_relaxed);
        home.recycle(this);
        return;
    }
    home.on_answer(*this, waiting, std::move(r));
}

void exchange::answer_on_loop(stream_piece&& p) noexcept {
    worker& home = home_;
    home.answered();
    connection* waiting = conn;
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        refs_.store(1, std::memory_order_relaxed);
        home.recycle(this); // nobody waits; the stream is destroyed with the reuse
        return;
    }
    home.on_piece(*this, waiting, std::move(p));
}

void exchange::reset_for_reuse() noexcept {
    stream.reset();
    head.fields.clear();
    conn = nullptr;
    params.clear();
}

} // namespace hs::server_detail
