#include "server/exchange.hpp"

#include "server/worker.hpp"

namespace hs::server_detail {
namespace {

/// The queued form of an answer (posted from another thread, or deferred on the loop thread):
/// runs on the loop, or, when the loop is gone and the task is destroyed unrun, still releases
/// the responder's reference.
class late_answer {
public:
    late_answer(exchange* ex, response&& r) noexcept : ex_(ex), r_(std::move(r)) {}
    late_answer(late_answer&& o) noexcept
        : ex_(std::exchange(o.ex_, nullptr)), r_(std::move(o.r_)) {}
    late_answer& operator=(late_answer&&) = delete;
    late_answer(const late_answer&) = delete;
    ~late_answer() {
        if (ex_ != nullptr) {
            ex_->release();
        }
    }
    void operator()() noexcept { std::exchange(ex_, nullptr)->answer_on_loop(std::move(r_)); }

private:
    exchange* ex_;
    response r_;
};

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
    try {
        if (box_->on_loop_thread()) {
            if (home_.dispatching(*this)) {
                answer_on_loop(std::move(r)); // inside its own handler: caught, no queueing
                return;
            }
            // On the loop thread but inside some other callback (a database client's on_io, a
            // timer, another request's handler): the connection must not run re-entrantly
            // there, so the answer waits until that callback has returned.
            home_.loop().defer(late_answer(this, std::move(r)));
            return;
        }
        // From another thread. When the loop is gone, the refused task was destroyed and gave
        // the reference back.
        box_->post(late_answer(this, std::move(r)));
    } catch (...) {
        // Out of memory while queueing: the late_answer's destructor gave the reference back
        // during the unwinding (never release twice). The outstanding count stays one high, so
        // a drain waits for its deadline, and the handler deadline answers 504.
    }
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

void exchange::reset_for_reuse() noexcept {
    head.fields.clear();
    conn = nullptr;
    params.clear();
}

} // namespace hs::server_detail
