#include "store/postgres/pipeline.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <system_error>

namespace hs::store::pg {
namespace {

std::string error_text(PGconn* c) {
    std::string m = c != nullptr ? PQerrorMessage(c) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
        m.pop_back();
    }
    for (char& ch : m) {
        ch = ch == '\n' ? ' ' : ch;
    }
    return m;
}

void set_cork(int fd, int on) noexcept {
    // Fails harmlessly on a Unix socket (no Nagle, nothing to coalesce).
    ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

} // namespace

pipeline::pipeline(net::loop& l, const pipeline_options& o) : loop_(l), o_(o) {
    timer_.set_callback([this] { on_timer(); });
    retry_.set_callback([this] { connect(); });
}

pipeline::~pipeline() {
    close();
    *alive_ = false;
}

void pipeline::start() {
    if (!started_ && !closed_) {
        started_ = true;
        connect();
    }
}

void pipeline::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    fail("closed");
    retry_.cancel();
    timer_.cancel();
}

void pipeline::watch(std::uint32_t events) {
    const int fd = PQsocket(conn_);
    if (fd < 0) {
        return;
    }
    if (fd != fd_ || state_ == state::connecting) {
        // While connecting libpq may close its socket and open another that gets the same
        // number: register afresh, the old registration went with the old socket.
        unwatch();
        loop_.add(fd, events, *this);
        fd_ = fd;
    } else if (events != events_) {
        loop_.modify(fd, events, *this);
    }
    events_ = events;
}

void pipeline::unwatch() noexcept {
    if (fd_ >= 0) {
        loop_.remove(fd_, *this);
        fd_ = -1;
        events_ = 0;
    }
}

void pipeline::connect() {
    if (closed_) {
        return;
    }
    state_ = state::connecting;
    phase_deadline_ms_ = loop_.now_ms() + o_.timeout_ms;
    conn_ = PQconnectStart(o_.conninfo.c_str());
    if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
        fail("cannot connect: " + error_text(conn_));
        return;
    }
    arm_timer();
    poll_connect();
}

void pipeline::poll_connect() {
    switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
        watch(EPOLLIN);
        return;
    case PGRES_POLLING_WRITING:
        watch(EPOLLOUT);
        return;
    case PGRES_POLLING_FAILED:
        fail("cannot connect: " + error_text(conn_));
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        return;
    }
    // Notices (a schema that already exists...) are not errors: not printed on stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    if (PQsetnonblocking(conn_, 1) != 0 || PQsendQuery(conn_, o_.setup_sql.c_str()) == 0) {
        fail("setup: " + error_text(conn_));
        return;
    }
    state_ = state::setting_up;
    finish_writing();
}

void pipeline::finish_writing() {
    const int r = PQflush(conn_);
    if (r < 0) {
        fail("lost the connection: " + error_text(conn_));
        return;
    }
    watch(r == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
    // A flush that found the socket full reads what the server sent meanwhile into libpq's
    // buffer, where epoll cannot see it: handle it now, not at the next readiness.
    if (r == 1 && (state_ == state::ready || state_ == state::preparing)) {
        read_results();
    }
}

void pipeline::on_io(std::uint32_t events) {
    if (conn_ == nullptr) {
        return;
    }
    if (state_ == state::connecting) {
        poll_connect();
        return;
    }
    if ((events & EPOLLOUT) != 0) {
        finish_writing();
        if (conn_ == nullptr) {
            return;
        }
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        if (PQconsumeInput(conn_) == 0) {
            fail("lost the connection: " + error_text(conn_));
            return;
        }
        if (state_ == state::setting_up) {
            read_setup();
        } else {
            read_results();
        }
    }
}

void pipeline::read_setup() {
    while (conn_ != nullptr && PQisBusy(conn_) == 0) {
        result_ptr r(PQgetResult(conn_));
        if (r == nullptr) {
            // The script is over: its last result is the one to check.
            std::string error = setup_error_;
            if (error.empty() && o_.check_setup) {
                error = setup_last_ != nullptr ? o_.check_setup(*setup_last_)
                                               : "the setup script returned nothing";
            }
            setup_error_.clear();
            setup_last_.reset();
            if (!error.empty()) {
                fail("setup: " + error);
                return;
            }
            begin_prepare();
            return;
        }
        const ExecStatusType st = PQresultStatus(r.get());
        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            if (setup_error_.empty()) {
                setup_error_ = error_text(conn_);
            }
        } else if (st == PGRES_TUPLES_OK) {
            setup_last_ = std::move(r);
        }
    }
}

void pipeline::begin_prepare() {
    if (PQenterPipelineMode(conn_) == 0) {
        fail("pipeline mode: " + error_text(conn_));
        return;
    }
    state_ = state::preparing;
    // The Prepares go first, ahead of whatever queued up while connecting.
    for (int i = static_cast<int>(o_.statements.size()) - 1; i >= 0; --i) {
        query q;
        q.prepare = i;
        q.deadline_ms = loop_.now_ms() + o_.timeout_ms;
        queued_.push_front(std::move(q));
    }
    flush();
}

void pipeline::submit(int stmt, std::array<const char*, max_params> params, callback done) {
    const auto refuse = [&](std::string why) {
        reply r;
        r.what = reply::status::refused;
        r.message = std::move(why);
        loop_.defer([d = std::move(done), r = std::move(r)]() mutable { d(std::move(r)); });
    };
    if (closed_ || state_ == state::waiting) {
        refuse(closed_ ? "closed" : "the database is unreachable");
        return;
    }
    if (outstanding() >= o_.max_queue) {
        refuse("the database queue is full");
        return;
    }
    query q;
    q.stmt = stmt;
    for (int i = 0; i < o_.statements[static_cast<std::size_t>(stmt)].params; ++i) {
        const auto k = static_cast<std::size_t>(i);
        q.null[k] = params[k] == nullptr;
        if (params[k] != nullptr) {
            q.values[k] = params[k];
        }
    }
    q.deadline_ms = loop_.now_ms() + o_.timeout_ms;
    q.done = std::move(done);
    queued_.push_back(std::move(q));
    arm_timer();
    if (state_ == state::ready) {
        schedule_flush();
    }
}

void pipeline::schedule_flush() {
    if (flush_scheduled_) {
        return;
    }
    flush_scheduled_ = true;
    // After the callback that is running: the queries of every request this iteration's events
    // bring go out together.
    loop_.defer([this, alive = std::weak_ptr<bool>(alive_)] {
        if (const auto a = alive.lock(); a && *a) {
            flush_scheduled_ = false;
            flush();
        }
    });
}

void pipeline::flush() {
    if (conn_ == nullptr || queued_.empty() ||
        (state_ != state::ready && state_ != state::preparing)) {
        return;
    }
    const int fd = PQsocket(conn_);
    // libpq 15's PQpipelineSync writes to the socket every time; corked, the batch still
    // leaves as full segments (libpq 17's PQsendPipelineSync would save the syscalls too).
    set_cork(fd, 1);
    std::uint64_t batch = 0;
    bool ok = true;
    while (!queued_.empty() && (state_ == state::ready || queued_.front().prepare >= 0)) {
        query& q = queued_.front();
        if (q.prepare >= 0) {
            const auto& s = o_.statements[static_cast<std::size_t>(q.prepare)];
            const std::string name = std::to_string(q.prepare);
            ok = PQsendPrepare(conn_, name.c_str(), s.sql.c_str(), s.params, nullptr) != 0;
        } else {
            const auto& s = o_.statements[static_cast<std::size_t>(q.stmt)];
            std::array<const char*, max_params> values{};
            for (int i = 0; i < s.params; ++i) {
                const auto k = static_cast<std::size_t>(i);
                values[k] = q.null[k] ? nullptr : q.values[k].c_str();
            }
            const std::string name = std::to_string(q.stmt);
            ok = PQsendQueryPrepared(conn_, name.c_str(), s.params, values.data(), nullptr, nullptr,
                                     0) != 0;
        }
        // One Sync per query: its own transaction, its own error.
        ok = ok && PQpipelineSync(conn_) != 0;
        batch += q.prepare < 0 ? 1 : 0;     // the connection's own Prepares are not counted
        in_flight_.push_back(std::move(q)); // q is gone from here on
        queued_.pop_front();
        if (!ok) {
            break;
        }
    }
    set_cork(fd, 0);
    if (!ok) {
        fail("lost the connection: " + error_text(conn_));
        return;
    }
    stats_.queries += batch;
    stats_.flushes += batch > 0 ? 1 : 0;
    stats_.max_batch = std::max(stats_.max_batch, batch);
    finish_writing();
}

void pipeline::complete(query& q, reply r) {
    if (q.done) {
        callback d = std::move(q.done);
        d(std::move(r));
    }
}

void pipeline::read_results() {
    bool previous_null = false;
    while (conn_ != nullptr && !in_flight_.empty() && PQisBusy(conn_) == 0) {
        result_ptr r(PQgetResult(conn_));
        if (r == nullptr) {
            // Ends a query's results; two in a row means nothing more has arrived.
            if (previous_null) {
                break;
            }
            previous_null = true;
            continue;
        }
        previous_null = false;
        query& front = in_flight_.front();
        const ExecStatusType st = PQresultStatus(r.get());
        if (st != PGRES_PIPELINE_SYNC) {
            // The statement's result, unless an error follows it: a commit that fails (a
            // serialization failure, a deferred constraint) reports its error after the
            // statement's own OK, before the Sync. The error wins.
            const bool error =
                st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_PIPELINE_ABORTED;
            if (!front.got_result || error) {
                front.got_result = true;
                front.result = std::move(r);
            }
            continue;
        }
        // The Sync: the query's transaction is over.
        query q = std::move(front);
        in_flight_.pop_front();
        reply out;
        const ExecStatusType qs =
            q.result != nullptr ? PQresultStatus(q.result.get()) : PGRES_FATAL_ERROR;
        if (qs == PGRES_TUPLES_OK || qs == PGRES_COMMAND_OK) {
            out.rows = std::move(q.result);
        } else {
            out.what = reply::status::error;
            if (q.result != nullptr) {
                const char* code = PQresultErrorField(q.result.get(), PG_DIAG_SQLSTATE);
                out.sqlstate = code != nullptr ? code : "";
                out.message = PQresultErrorMessage(q.result.get());
            }
        }
        if (q.prepare >= 0) {
            if (out.what != reply::status::ok) {
                fail("prepare: " + out.message);
                return;
            }
            if (q.prepare + 1 == static_cast<int>(o_.statements.size())) {
                state_ = state::ready;
                backoff_ms_ = 0;
                if (o_.on_ready) {
                    o_.on_ready(true);
                }
                ++stats_.connects;
                if (o_.log && stats_.connects > 1) {
                    o_.log("database connection restored");
                }
                schedule_flush();
            }
            continue;
        }
        complete(q, std::move(out));
    }
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_BAD) {
        fail("lost the connection: " + error_text(conn_));
    }
}

void pipeline::arm_timer() {
    if (!timer_.pending() && !closed_) {
        loop_.schedule(timer_, std::chrono::milliseconds(100));
    }
}

void pipeline::on_timer() {
    const std::int64_t now = loop_.now_ms();
    if (state_ == state::connecting || state_ == state::setting_up || state_ == state::preparing) {
        if (now >= phase_deadline_ms_ && state_ != state::preparing) {
            fail("cannot connect: no answer within the timeout");
            return;
        }
    }
    if (!in_flight_.empty() && in_flight_.front().deadline_ms <= now) {
        fail("no answer within the timeout");
        return;
    }
    // Queued behind a connection that is still being made: refused at their deadline.
    while (!queued_.empty() && queued_.front().prepare < 0 && queued_.front().deadline_ms <= now) {
        query q = std::move(queued_.front());
        queued_.pop_front();
        reply r;
        r.what = reply::status::refused;
        r.message = "no database connection within the timeout";
        complete(q, std::move(r));
    }
    if (outstanding() > 0 || (state_ != state::ready && state_ != state::waiting)) {
        arm_timer();
    }
}

void pipeline::fail(const std::string& why) {
    setup_error_.clear();
    setup_last_.reset();
    unwatch();
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    if (state_ == state::ready && o_.on_ready) {
        o_.on_ready(false);
    }
    state_ = state::waiting;
    if (!closed_) {
        ++stats_.failures;
        if (backoff_ms_ == 0 && o_.log) { // the first failure of a run; retries stay quiet
            o_.log("database: " + why);
        }
    }
    // What was sent may have run: its outcome is unknown. What waited is refused: the next
    // attempt comes after a backoff, and until then the database counts as unreachable.
    std::deque<query> sent;
    sent.swap(in_flight_);
    std::deque<query> waiting;
    waiting.swap(queued_);
    for (query& q : sent) {
        reply r;
        r.what = reply::status::lost;
        r.message = why;
        complete(q, std::move(r));
    }
    for (query& q : waiting) {
        reply r;
        r.what = reply::status::refused;
        r.message = why;
        complete(q, std::move(r));
    }
    if (closed_) {
        return;
    }
    backoff_ms_ =
        backoff_ms_ == 0 ? o_.backoff_min_ms : std::min(o_.backoff_max_ms, backoff_ms_ * 2);
    // Jitter (xorshift): instances and workers that lost the database together spread out.
    rand_ ^= rand_ << 13;
    rand_ ^= rand_ >> 7;
    rand_ ^= rand_ << 17;
    const std::int64_t jitter =
        static_cast<std::int64_t>(rand_ % static_cast<std::uint64_t>(backoff_ms_ / 4 + 1));
    loop_.schedule(retry_, std::chrono::milliseconds(backoff_ms_ + jitter));
}

} // namespace hs::store::pg
