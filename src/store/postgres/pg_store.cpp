#include "store/postgres/pg_store.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace hs::store {
namespace {

using pg::reply;

/// The prepared statements, by index.
enum stmt : int { s_create, s_get, s_list, s_replace, s_remove, s_cas, s_count };

constexpr int schema_version = 1;

bool valid_schema_name(const std::string& s) {
    if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string replace_all(std::string text, const std::string& schema) {
    for (std::size_t at = text.find("{s}"); at != std::string::npos; at = text.find("{s}", at)) {
        text.replace(at, 3, schema);
        at += schema.size();
    }
    return text;
}

/// Creates the tables the first time, under an advisory lock so that instances starting
/// together do not race; later schema versions add their steps here.
std::string setup_sql(const std::string& schema, std::int64_t timeout_ms) {
    // READ COMMITTED whatever the database's default: the compare-and-write statements rely on
    // its recheck of the newest row version. The server gives up on a statement a little
    // before this side's deadline, so a stuck one is cancelled rather than left running.
    const std::int64_t statement_ms = std::max<std::int64_t>(timeout_ms - 200, timeout_ms / 2);
    return "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;\n"
           "SET statement_timeout = " +
           std::to_string(std::max<std::int64_t>(statement_ms, 1)) + ";\n" +
           replace_all(R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(1752394241);
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL);
DO $hs$ BEGIN
  IF NOT EXISTS (SELECT FROM {s}.schema_version) THEN
    CREATE TABLE {s}.items (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      version bigint NOT NULL,
      members text NOT NULL);
    CREATE TABLE {s}.meta (store_id text NOT NULL);
    INSERT INTO {s}.meta VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 16));
    INSERT INTO {s}.schema_version VALUES (1);
  END IF;
END $hs$;
COMMIT;
SELECT (SELECT max(version) FROM {s}.schema_version), (SELECT store_id FROM {s}.meta LIMIT 1);
)sql",
                       schema);
}

/// The precondition of a write, as SQL on the row's version ($3..$6).
constexpr const char* precondition_sql =
    "($3::boolean OR version = ANY($4::bigint[])) AND NOT $5::boolean AND "
    "version <> ALL($6::bigint[])";

std::vector<pg::statement> statements(const std::string& schema) {
    std::vector<pg::statement> s(s_count);
    s[s_create] = {replace_all("INSERT INTO {s}.items (version, members) VALUES (1, $1) "
                               "RETURNING id",
                               schema),
                   1};
    s[s_get] = {replace_all("SELECT version, members FROM {s}.items WHERE id = $1", schema), 1};
    // Keyset paging: $2 is the page's length + 1 (the extra row says "more"); an item's text
    // length is computed as make_item() builds it, so the byte budget ($3) is cut here, and
    // past the cut only ids come back.
    s[s_list] = {
        replace_all("SELECT id, version, CASE WHEN n < $2 AND before < $3 THEN members END "
                    "FROM (SELECT id, version, members, row_number() OVER w AS n, "
                    "coalesce(sum(octet_length(members) + length(id::text) + "
                    "CASE WHEN members = '' THEN 7 ELSE 8 END) OVER (w ROWS BETWEEN "
                    "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before "
                    "FROM {s}.items WHERE id > $1 WINDOW w AS (ORDER BY id) ORDER BY id "
                    "LIMIT $2) page ORDER BY id",
                    schema),
        3};
    // Compare-and-write in one statement: the precondition is checked on the row being
    // written (rechecked on the newest version if another transaction got there first). The
    // second column is the version this statement's snapshot saw, to tell a missing item or a
    // failed precondition from a lost race.
    s[s_replace] = {replace_all(std::string("WITH w AS (UPDATE {s}.items SET members = $2, "
                                            "version = version + 1 WHERE id = $1 AND ") +
                                    precondition_sql +
                                    " RETURNING version) SELECT (SELECT version FROM w), "
                                    "(SELECT version FROM {s}.items WHERE id = $1)",
                                schema),
                    6};
    // $2 (no members to write) is a NULL that keeps the precondition at $3..$6 for both.
    s[s_remove] = {replace_all(std::string("WITH w AS (DELETE FROM {s}.items WHERE id = $1 AND "
                                           "($2::text IS NULL OR true) AND ") +
                                   precondition_sql +
                                   " RETURNING version) SELECT (SELECT version FROM w), "
                                   "(SELECT version FROM {s}.items WHERE id = $1)",
                               schema),
                   6};
    s[s_cas] = {replace_all("UPDATE {s}.items SET members = $2, version = version + 1 "
                            "WHERE id = $1 AND version = $3 RETURNING version",
                            schema),
                3};
    return s;
}

std::uint64_t to_u64(const PGresult* r, int row, int col) {
    const char* v = PQgetvalue(r, row, col);
    const char* end = v + PQgetlength(r, row, col);
    std::uint64_t n = 0;
    std::from_chars(v, end, n);
    return n;
}

std::string array_text(const std::vector<std::uint64_t>& versions) {
    std::string out = "{";
    for (std::size_t i = 0; i < versions.size(); ++i) {
        out += i > 0 ? "," : "";
        out += std::to_string(versions[i]);
    }
    out += '}';
    return out;
}

item_result unavailable(std::uint64_t id) {
    item_result r;
    r.what = item_result::status::unavailable;
    r.id = id;
    return r;
}

/// Ids past bigint's range were never handed out: answered without asking the database.
bool beyond_bigint(std::uint64_t id) {
    return id > static_cast<std::uint64_t>(INT64_MAX);
}

item_result not_found(std::uint64_t id) {
    item_result r;
    r.what = item_result::status::not_found;
    r.id = id;
    return r;
}

} // namespace

/// One worker's connections, on its loop.
struct pg_store::session {
    net::loop& loop;
    std::int64_t timeout_ms = 0; ///< a write that keeps losing races gives up after this
    std::vector<std::unique_ptr<pg::pipeline>> conns;
    bool open = true;
    std::uint64_t operations = 0;

    /// The ready connection with the least outstanding work; else one still connecting (it
    /// queues); else any (it refuses at once).
    pg::pipeline& pick() {
        pg::pipeline* best = nullptr;
        int best_rank = 3;
        for (auto& c : conns) {
            const int rank = c->ready() ? 0 : c->current() != pg::pipeline::state::waiting ? 1 : 2;
            if (rank < best_rank || (rank == best_rank && c->outstanding() < best->outstanding())) {
                best = c.get();
                best_rank = rank;
            }
        }
        return *best;
    }
};

pg_store::pg_store(pg_options o, unsigned max_workers)
    : o_(std::move(o)), slots_(std::make_unique<slot[]>(max_workers)), capacity_(max_workers) {
    if (!valid_schema_name(o_.schema)) {
        throw std::invalid_argument("the schema name must be [a-z_][a-z0-9_]*: " + o_.schema);
    }
    if (o_.connections_per_worker == 0 || o_.connections_per_worker > 64) {
        throw std::invalid_argument("connections per worker must be 1..64");
    }
    pipe_.conninfo = o_.url;
    pipe_.setup_sql = setup_sql(o_.schema, o_.timeout.count());
    pipe_.statements = statements(o_.schema);
    pipe_.timeout_ms = o_.timeout.count();
    pipe_.max_queue = o_.max_queue;
    pipe_.log = o_.log;
    pipe_.check_setup = [this](const PGresult& r) { return check_setup(r); };
    pipe_.on_ready = [this](bool up) {
        ready_connections_.fetch_add(up ? 1 : -1, std::memory_order_relaxed);
    };
}

pg_store::~pg_store() = default;

std::string pg_store::check_setup(const PGresult& r) {
    if (PQntuples(&r) != 1 || PQnfields(&r) != 2 || PQgetisnull(&r, 0, 0) != 0 ||
        PQgetisnull(&r, 0, 1) != 0) {
        return "the schema has no version or no store id";
    }
    const auto version = to_u64(&r, 0, 0);
    if (version != schema_version) {
        return "the schema is version " + std::to_string(version) + ", this server knows " +
               std::to_string(schema_version) + "; refusing to use it";
    }
    const std::string id = PQgetvalue(&r, 0, 1);
    std::lock_guard lock(prefix_mu_);
    if (!prefix_set_.load(std::memory_order_relaxed)) {
        prefix_ = id;
        prefix_set_.store(true, std::memory_order_release);
    } else if (prefix_ != id) {
        return "the store id changed from " + prefix_ + " to " + id +
               " (the tables were recreated?); restart the server to serve the new ones";
    }
    return {};
}

std::string_view pg_store::etag_prefix() const noexcept {
    return prefix_set_.load(std::memory_order_acquire) ? std::string_view(prefix_)
                                                       : std::string_view();
}

void pg_store::attach(worker_context& w) {
    if (w.index >= capacity_) {
        throw std::logic_error("pg_store: worker index past max_workers");
    }
    slot& sl = slots_[w.index];
    sl.s = std::make_unique<session>(session{w.loop, o_.timeout.count(), {}});
    for (unsigned i = 0; i < o_.connections_per_worker; ++i) {
        sl.s->conns.push_back(std::make_unique<pg::pipeline>(w.loop, pipe_));
        sl.s->conns.back()->start();
    }
    sl.loop.store(&w.loop, std::memory_order_release);
}

void pg_store::detach(worker_context& w) {
    if (w.index >= capacity_ || slots_[w.index].s == nullptr) {
        return;
    }
    slot& sl = slots_[w.index];
    session& s = *sl.s;
    s.open = false;
    sl.loop.store(nullptr, std::memory_order_release);
    for (auto& c : s.conns) {
        c->close(); // completes what is outstanding, on this thread
    }
    sl.final_stats = session_stats(s);
    sl.retired.store(true, std::memory_order_release);
    s.conns.clear();
}

pg_stats pg_store::session_stats(const session& s) {
    pg_stats part;
    part.operations = s.operations;
    for (const auto& c : s.conns) {
        const pg::pipeline_stats& p = c->stats();
        part.queries += p.queries;
        part.flushes += p.flushes;
        part.max_batch = std::max(part.max_batch, p.max_batch);
        part.connects += p.connects;
        part.failures += p.failures;
    }
    return part;
}

namespace {
void add(pg_stats& total, const pg_stats& part) {
    total.queries += part.queries;
    total.flushes += part.flushes;
    total.max_batch = std::max(total.max_batch, part.max_batch);
    total.connects += part.connects;
    total.failures += part.failures;
    total.operations += part.operations;
}
} // namespace

template <class F> void pg_store::on_session(F&& f) {
    net::loop* here = net::loop::current();
    std::vector<std::pair<unsigned, net::loop*>> attached;
    for (unsigned i = 0; i < capacity_; ++i) {
        net::loop* l = slots_[i].loop.load(std::memory_order_acquire);
        if (l != nullptr && l == here) {
            session& s = *slots_[i].s;
            f(s.open ? &s : nullptr);
            return;
        }
        if (l != nullptr) {
            attached.emplace_back(i, l);
        }
    }
    if (attached.empty()) {
        f(nullptr);
        return;
    }
    // Not a worker: the operation runs on one, round robin. If that loop is gone the task is
    // destroyed unrun, and the op it carries fails in its destructor.
    // (A caller that is not a worker must not race the server's stop: the loop it picked
    // may be going away.)
    const auto [i, l] =
        attached[next_foreign_.fetch_add(1, std::memory_order_relaxed) % attached.size()];
    slot& sl = slots_[i];
    l->post([&sl, f = std::forward<F>(f)]() mutable {
        f(sl.s != nullptr && sl.s->open ? sl.s.get() : nullptr);
    });
}

/// One store operation in progress: owns its callback, and answers `unavailable` if it is
/// destroyed without an answer (a task that never ran, a worker that went away).
struct pg_store::op {
    item_callback done;
    std::uint64_t id = 0;
    explicit op(item_callback d, std::uint64_t i = 0) : done(std::move(d)), id(i) {}
    op(const op&) = delete;
    op& operator=(const op&) = delete;
    ~op() {
        if (done) {
            done(unavailable(id));
        }
    }
    void answer(item_result r) {
        item_callback d = std::move(done);
        d(std::move(r));
    }
};

void pg_store::create(std::string members, item_callback done) {
    auto o = std::make_shared<op>(std::move(done));
    on_session([o, members = std::move(members)](session* s) mutable {
        if (s == nullptr) {
            return; // ~op answers
        }
        ++s->operations;
        auto m = std::make_shared<std::string>(std::move(members));
        s->pick().submit(s_create, {m->c_str()}, [o, m](reply r) {
            if (r.what != reply::status::ok || PQntuples(r.rows.get()) != 1) {
                return;
            }
            item_result out;
            out.id = to_u64(r.rows.get(), 0, 0);
            out.version = 1;
            out.json = make_item(out.id, *m);
            o->answer(std::move(out));
        });
    });
}

void pg_store::get(std::uint64_t id, item_callback done) {
    if (beyond_bigint(id)) {
        done(not_found(id));
        return;
    }
    auto o = std::make_shared<op>(std::move(done), id);
    on_session([o, id](session* s) {
        if (s == nullptr) {
            return;
        }
        ++s->operations;
        const std::string key = std::to_string(id);
        s->pick().submit(s_get, {key.c_str()}, [o, id](reply r) {
            if (r.what != reply::status::ok) {
                return;
            }
            item_result out;
            out.id = id;
            if (PQntuples(r.rows.get()) == 0) {
                out.what = item_result::status::not_found;
            } else {
                out.version = to_u64(r.rows.get(), 0, 0);
                out.json = make_item(id, PQgetvalue(r.rows.get(), 0, 1));
            }
            o->answer(std::move(out));
        });
    });
}

void pg_store::list(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                    list_callback done) {
    struct list_op {
        list_callback done;
        explicit list_op(list_callback d) : done(std::move(d)) {}
        list_op(const list_op&) = delete;
        list_op& operator=(const list_op&) = delete;
        ~list_op() {
            if (done) {
                list_result r;
                r.what = item_result::status::unavailable;
                done(std::move(r));
            }
        }
    };
    auto o = std::make_shared<list_op>(std::move(done));
    if (limit == 0) {
        list_callback d = std::move(o->done);
        d(list_result{});
        return;
    }
    on_session([o, after, limit, max_bytes](session* s) {
        if (s == nullptr) {
            return;
        }
        ++s->operations;
        const std::string a = std::to_string(std::min<std::uint64_t>(after, INT64_MAX));
        const std::string n = std::to_string(std::min<std::size_t>(limit, 1u << 30) + 1);
        const std::string b = std::to_string(std::min<std::size_t>(max_bytes, INT64_MAX));
        s->pick().submit(s_list, {a.c_str(), n.c_str(), b.c_str()}, [o](reply r) {
            if (r.what != reply::status::ok) {
                return;
            }
            list_result out;
            const PGresult* res = r.rows.get();
            const int rows = PQntuples(res);
            for (int i = 0; i < rows; ++i) {
                if (PQgetisnull(res, i, 2) != 0) {
                    out.more = true;
                    break;
                }
                const std::uint64_t id = to_u64(res, i, 0);
                out.items.push_back({id, to_u64(res, i, 1), make_item(id, PQgetvalue(res, i, 2))});
            }
            list_callback d = std::move(o->done);
            d(std::move(out));
        });
    });
}

namespace {

/// The text parameters of a precondition ($3..$6).
/// Versions past bigint's range are never current: left out (a bigint[] would refuse them).
std::vector<std::uint64_t> in_range(const std::vector<std::uint64_t>& versions) {
    std::vector<std::uint64_t> out;
    for (const std::uint64_t v : versions) {
        if (!beyond_bigint(v)) {
            out.push_back(v);
        }
    }
    return out;
}

struct precondition_params {
    std::string any, versions, fail_if_exists, not_versions;
    explicit precondition_params(const precondition& p)
        : any(p.any_version ? "t" : "f"), versions(array_text(in_range(p.versions))),
          fail_if_exists(p.fail_if_exists ? "t" : "f"),
          not_versions(array_text(in_range(p.not_versions))) {}
};

} // namespace

/// A write in progress: what it writes and how often it lost a race.
struct pg_store::write_state {
    std::shared_ptr<op> o;
    std::uint64_t id = 0;
    precondition pre;
    std::string members;           ///< replace: the new members; modify: the edit's last result
    member_edit edit;              ///< modify only
    std::int64_t deadline_ms = -1; ///< set by the first attempt
    std::uint64_t attempts = 0;

    /// Another attempt after a lost race? Each loss is another writer's win, so the writers
    /// as a whole progress; one that keeps losing gives up (503) at the store's timeout.
    bool again(const session& s) {
        ++attempts;
        return s.open && s.loop.now_ms() < deadline_ms;
    }
};

std::shared_ptr<pg_store::write_state> pg_store::begin_write(std::uint64_t id, precondition& pre,
                                                             item_callback& done) {
    if (!prefix_set_.load(std::memory_order_acquire)) {
        // No connection has read the store id yet, so the caller read its If-Match and
        // If-None-Match against an empty prefix: they cannot be judged. 503 until then.
        done(unavailable(id));
        return nullptr;
    }
    if (beyond_bigint(id)) {
        done(not_found(id));
        return nullptr;
    }
    auto st = std::make_shared<write_state>();
    st->o = std::make_shared<op>(std::move(done), id);
    st->id = id;
    st->pre = std::move(pre);
    return st;
}

void pg_store::replace(std::uint64_t id, std::string members, precondition pre,
                       item_callback done) {
    auto st = begin_write(id, pre, done);
    if (st == nullptr) {
        return;
    }
    st->members = std::move(members);
    on_session([st](session* s) {
        if (s != nullptr) {
            ++s->operations;
            conditional_write(s_replace, st, *s);
        }
    });
}

void pg_store::remove(std::uint64_t id, precondition pre, item_callback done) {
    auto st = begin_write(id, pre, done);
    if (st == nullptr) {
        return;
    }
    on_session([st](session* s) {
        if (s != nullptr) {
            ++s->operations;
            conditional_write(s_remove, st, *s);
        }
    });
}

void pg_store::conditional_write(int stmt, std::shared_ptr<write_state> st, session& s) {
    if (!s.open) {
        return; // ~op answers
    }
    if (st->deadline_ms < 0) {
        st->deadline_ms = s.loop.now_ms() + s.timeout_ms;
    }
    const std::string key = std::to_string(st->id);
    const precondition_params p(st->pre);
    // remove has no $2: a NULL the statement ignores keeps the precondition at $3..$6.
    const char* members = stmt == s_replace ? st->members.c_str() : nullptr;
    s.pick().submit(stmt,
                    {key.c_str(), members, p.any.c_str(), p.versions.c_str(),
                     p.fail_if_exists.c_str(), p.not_versions.c_str()},
                    [stmt, st, &s](reply r) {
                        if (r.what != reply::status::ok || PQntuples(r.rows.get()) != 1) {
                            return; // ~op answers 503: lost, refused or failed
                        }
                        const PGresult* res = r.rows.get();
                        item_result out;
                        out.id = st->id;
                        if (PQgetisnull(res, 0, 0) == 0) {
                            out.version = stmt == s_replace ? to_u64(res, 0, 0) : 0;
                            if (stmt == s_replace) {
                                out.json = make_item(st->id, st->members);
                            }
                        } else if (PQgetisnull(res, 0, 1) != 0) {
                            out.what = item_result::status::not_found;
                        } else if (const auto seen = to_u64(res, 0, 1); !st->pre.holds(seen)) {
                            out.what = item_result::status::precondition_failed;
                            out.version = seen;
                        } else {
                            // The precondition held on the version this statement's snapshot
                            // saw, yet the row had moved on: another write came first. Again.
                            if (st->again(s)) {
                                conditional_write(stmt, std::move(st), s);
                            }
                            return;
                        }
                        st->o->answer(std::move(out));
                    });
}

void pg_store::modify(std::uint64_t id, member_edit edit, precondition pre, item_callback done) {
    auto st = begin_write(id, pre, done);
    if (st == nullptr) {
        return;
    }
    st->edit = std::move(edit);
    on_session([st](session* s) {
        if (s != nullptr) {
            ++s->operations;
            edit_attempt(std::move(st), *s);
        }
    });
}

void pg_store::edit_attempt(std::shared_ptr<write_state> st, session& s) {
    if (!s.open) {
        return;
    }
    if (st->deadline_ms < 0) {
        st->deadline_ms = s.loop.now_ms() + s.timeout_ms;
    }
    // Read, edit here, then write only if the version read is still current; a lost race
    // reads again.
    const std::string key = std::to_string(st->id);
    s.pick().submit(s_get, {key.c_str()}, [st, &s](reply r) {
        if (r.what != reply::status::ok) {
            return;
        }
        const PGresult* res = r.rows.get();
        item_result out;
        out.id = st->id;
        if (PQntuples(res) == 0) {
            out.what = item_result::status::not_found;
        } else if (const auto seen = to_u64(res, 0, 0); !st->pre.holds(seen)) {
            out.what = item_result::status::precondition_failed;
            out.version = seen;
        } else if (std::optional<std::string> next = st->edit(PQgetvalue(res, 0, 1)); !next) {
            out.what = item_result::status::edit_refused;
            out.version = seen;
        } else {
            if (!s.open) {
                return;
            }
            st->members = std::move(*next);
            const std::string k = std::to_string(st->id);
            const std::string v = std::to_string(seen);
            s.pick().submit(s_cas, {k.c_str(), st->members.c_str(), v.c_str()}, [st, &s](reply w) {
                if (w.what != reply::status::ok) {
                    return;
                }
                if (PQntuples(w.rows.get()) == 0) {
                    if (st->again(s)) {
                        edit_attempt(st, s);
                    }
                    return;
                }
                item_result ok;
                ok.id = st->id;
                ok.version = to_u64(w.rows.get(), 0, 0);
                ok.json = make_item(st->id, st->members);
                st->o->answer(std::move(ok));
            });
            return;
        }
        st->o->answer(std::move(out));
    });
}

pg_stats pg_store::stats() {
    struct gather {
        std::mutex mu;
        std::condition_variable cv;
        pg_stats total;
        unsigned answered = 0;
    };
    auto g = std::make_shared<gather>();
    unsigned asked = 0;
    for (unsigned i = 0; i < capacity_; ++i) {
        slot* sl = &slots_[i];
        if (sl->retired.load(std::memory_order_acquire)) {
            std::lock_guard lock(g->mu);
            add(g->total, sl->final_stats);
            continue;
        }
        net::loop* l = sl->loop.load(std::memory_order_acquire);
        // The task may outlive this call (a worker that does not answer in time): it holds
        // the gathering state, not this frame.
        if (l != nullptr && l->post([g, sl] {
                const pg_stats part = sl->s != nullptr ? session_stats(*sl->s) : pg_stats{};
                std::lock_guard lock(g->mu);
                add(g->total, part);
                ++g->answered;
                g->cv.notify_all();
            })) {
            ++asked;
        }
    }
    std::unique_lock lock(g->mu);
    g->cv.wait_for(lock, std::chrono::seconds(5), [&] { return g->answered == asked; });
    return g->total;
}

} // namespace hs::store
