// http_server: the JSON API of API.md on the hs engine.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "app/probes.hpp"
#include "app/routes.hpp"
#include "hs/server.hpp"
#include "journal/log.hpp"
#include "journal/record.hpp"
#include "log/async_sink.hpp"
#include "store/durable/durable_store.hpp"
#include "store/memory_store.hpp"
#include "store/postgres/pg_store.hpp"
#include "systemd/notify.hpp"

namespace {

/// Raises the soft descriptor limit to the hard one, so --max-connections can be reached.
void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/// Seconds from a flag as milliseconds; a positive value never rounds down to zero.
std::chrono::milliseconds seconds(double s) {
    const auto ms = static_cast<long long>(s * 1000.0);
    return std::chrono::milliseconds(s > 0 && ms == 0 ? 1 : ms);
}

/// True when the environment variable \p name is set and not empty.
bool in_environment(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0';
}

/// The TOML reader of --config, with the precedence of API.md: flags > environment > file >
/// defaults. CLI11 would let the file win over the environment (it reads the file first and
/// skips the environment for what the file set), so a key whose environment variable is set
/// is dropped from the file here.
class config_under_environment final : public CLI::ConfigBase {
public:
    std::vector<CLI::ConfigItem> from_config(std::istream& in) const override {
        std::vector<CLI::ConfigItem> read = CLI::ConfigBase::from_config(in);
        std::erase_if(read, [](const CLI::ConfigItem& item) {
            return item.parents.empty() &&
                   ((item.name == "port" && in_environment("PORT")) ||
                    (item.name == "database-url" && in_environment("DATABASE_URL")));
        });
        return read;
    }
};

/// Waits for SIGINT or SIGTERM (returned); SIGUSR1 meanwhile reopens the access log.
int wait_for_stop(const sigset_t& signals, hs::log::async_sink* sink) {
    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) {
            continue;
        }
        if (sig != SIGUSR1) {
            return sig;
        }
        if (sink != nullptr) {
            sink->reopen();
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    hs::server_options opts;
    hs::app::api_options api;
    std::string access_log = "-";
    std::string log_format = "combined";
    double header_timeout = 10, idle_timeout = 60, shutdown_timeout = 10, handler_timeout = 30;
    double shutdown_delay = 0;
    int port = 8080;
    std::string data_dir;
    hs::store::durable_options durable;
    hs::store::pg_options pg;
    double database_timeout = 5;
    if (const char* env = std::getenv("PORT"); env != nullptr && *env != '\0') {
        const std::string_view text(env);
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
        if (ec != std::errc() || end != text.data() + text.size() || port < 0 || port > 65535) {
            std::fprintf(
                stderr, "http_server: the PORT environment variable '%s' is not a port (0-65535)\n",
                env);
            return 2;
        }
    }

    CLI::App cli{"http_server: an HTTP/1.1 server for a JSON document API"};
    cli.set_version_flag("--version", std::string("http_server ") + HS_VERSION);
    cli.add_option("PORT", port,
                   "port to listen on (also --port, or the PORT environment variable)")
        ->check(CLI::Range(0, 65535));
    cli.add_option("-p,--port", port, "port to listen on; 0 picks a free one")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cli.add_option("-H,--host", opts.host, "address to listen on")->capture_default_str();
    cli.add_option("-t,--threads", opts.threads,
                   "worker threads, each with its own event loop (0: one per CPU)")
        ->capture_default_str();
    cli.add_option("--max-header-bytes", opts.limits.max_header_bytes,
                   "request line + header section limit (431)")
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 24))
        ->capture_default_str();
    cli.add_option("--max-header-fields", opts.limits.max_header_fields,
                   "header fields per request (431)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000}))
        ->capture_default_str();
    cli.add_option("--max-target-bytes", opts.limits.max_target_bytes,
                   "request-target length (414)")
        ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 24))
        ->capture_default_str();
    cli.add_option("--max-body-bytes", opts.limits.max_body_bytes, "request body size (413)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 31))
        ->capture_default_str();
    cli.add_option("--max-json-depth", api.json.max_depth, "nesting limit of a JSON body (400)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000}))
        ->capture_default_str();
    cli.add_option("--header-timeout", header_timeout,
                   "seconds to receive a request head, and the longest body stall (408)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cli.add_option("--idle-timeout", idle_timeout, "seconds a keep-alive connection may sit idle")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cli.add_option("--handler-timeout", handler_timeout,
                   "seconds a request may wait for its handler's answer (504 past it)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cli.add_flag("--require-if-match", api.require_if_match,
                 "PUT, PATCH and DELETE without If-Match get 428 Precondition Required");
    cli.add_flag("--reuse-port", opts.reuse_port,
                 "one SO_REUSEPORT listener per worker; lets other processes share the port");
    cli.add_option("--max-connections", opts.limits.max_connections,
                   "open connections; past it new ones get 503 and are closed")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->capture_default_str();
    cli.add_option("--shutdown-timeout", shutdown_timeout,
                   "seconds to finish in-flight requests after SIGINT/SIGTERM")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cli.add_option("--shutdown-delay", shutdown_delay,
                   "seconds to keep serving after SIGTERM with /readyz failing, so a load "
                   "balancer stops sending first; a second signal exits at once")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cli.add_option("--access-log", access_log,
                   "access log file, '-' for standard output, 'off' for none")
        ->capture_default_str();
    cli.add_option("--access-log-format", log_format,
                   "'combined' (nginx combined + seconds) or 'json'")
        ->check(CLI::IsMember({"combined", "json"}))
        ->capture_default_str();
    cli.add_option("--data-dir", data_dir,
                   "keep the items in this directory: every write is on disk (fdatasync) "
                   "before it is acknowledged; without it they live in memory only");
    cli.add_option("--journal-segment-bytes", durable.segment_bytes,
                   "with --data-dir: preallocated size of a journal segment")
        ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 34))
        ->capture_default_str();
    cli.add_option("--snapshot-after-bytes", durable.snapshot_after_bytes,
                   "with --data-dir: journal bytes written before a background snapshot "
                   "compacts it (at least the size of the last snapshot)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
        ->capture_default_str();
    cli.add_option("--database-url", pg.url,
                   "keep the items in PostgreSQL (a libpq URI, also DATABASE_URL): several "
                   "instances can share them")
        ->envname("DATABASE_URL");
    cli.add_option("--database-timeout", database_timeout,
                   "seconds to connect, or to wait for the database's answer, before 503")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cli.add_option("--database-connections", pg.connections_per_worker,
                   "PostgreSQL connections per worker thread (each commits in turn)")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    cli.add_option("--database-schema", pg.schema,
                   "the PostgreSQL schema of the tables (created if missing)")
        ->capture_default_str();
    cli.set_config("--config", "",
                   "read options from this TOML file (key = long flag name without '--'); "
                   "flags and the environment override it")
        ->check(CLI::ExistingFile);
    cli.config_formatter(std::make_shared<config_under_environment>());
    cli.allow_config_extras(CLI::config_extras_mode::error); // an unknown key exits 2
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = cli.exit(e);
        return rc == 0 ? 0 : 2;
    }
    // A journal record holds one item: an item must fit in one (16 MiB, less its framing).
    constexpr std::size_t max_durable_body = hs::journal::max_payload - 4096;
    if (!data_dir.empty() && opts.limits.max_body_bytes > max_durable_body) {
        std::fprintf(stderr,
                     "http_server: --max-body-bytes must not exceed %zu with --data-dir (one item "
                     "is one journal record)\n",
                     max_durable_body);
        return 2;
    }
    if (!data_dir.empty() && !pg.url.empty()) {
        std::fprintf(stderr, "http_server: --data-dir and --database-url exclude each other\n");
        return 2;
    }
    opts.port = static_cast<std::uint16_t>(port);
    opts.limits.header_timeout = seconds(header_timeout);
    opts.limits.idle_timeout = seconds(idle_timeout);
    opts.limits.handler_timeout = seconds(handler_timeout);
    opts.shutdown_timeout = seconds(shutdown_timeout);
    opts.log_format =
        log_format == "json" ? hs::access_log_format::json : hs::access_log_format::combined;

    // Signals are taken by sigwait() on this thread only: block them before any thread starts.
    // SIGUSR1 reopens the access log (logrotate); SIGINT and SIGTERM stop.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    // Under systemd: a socket it opened for us (socket activation), its notification socket
    // and its watchdog. Without them, all three are off.
    opts.listen_fd = hs::systemd::activated_listener();
    const std::optional<hs::systemd::notifier> notify = hs::systemd::notifier::from_environment();
    const std::optional<std::chrono::microseconds> watchdog = hs::systemd::watchdog_interval();

    std::shared_ptr<hs::log::async_sink> sink;
    try {
        if (access_log != "off") {
            sink = hs::log::async_sink::open(access_log);
            opts.access_log = sink;
        }
        // The store outlives the server; a durable one is closed (every accepted write made
        // durable or failed, every completion run) while the server's workers still exist.
        std::unique_ptr<hs::store::document_store> store;
        hs::store::durable_store* journaled = nullptr;
        hs::store::pg_store* database = nullptr;
        if (!pg.url.empty()) {
            pg.timeout = seconds(database_timeout);
            pg.log = [](const std::string& line) {
                hs::log::write_if_room(STDERR_FILENO, "http_server: " + line + "\n");
            };
            const unsigned workers = opts.threads != 0
                                         ? opts.threads
                                         : std::max(1u, std::thread::hardware_concurrency());
            try {
                auto p = std::make_unique<hs::store::pg_store>(pg, workers);
                database = p.get();
                store = std::move(p);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "http_server: --database-url: %s\n", e.what());
                return 2;
            }
            // Each worker drives its own connections from its own loop.
            opts.on_worker_start = [database](hs::worker_context& w) { database->attach(w); };
            opts.on_worker_stop = [database](hs::worker_context& w) { database->detach(w); };
        } else if (data_dir.empty()) {
            store = std::make_unique<hs::store::memory_store>();
        } else {
            durable.log = [](const std::string& line) {
                hs::log::write_if_room(STDERR_FILENO, "http_server: " + line + "\n");
            };
            try {
                auto d = std::make_unique<hs::store::durable_store>(
                    hs::journal::open_posix_directory(data_dir), durable);
                journaled = d.get();
                std::fprintf(stderr, "http_server: %zu items recovered from %s\n", d->size(),
                             data_dir.c_str());
                store = std::move(d);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "http_server: --data-dir %s: %s\n", data_dir.c_str(),
                             e.what());
                return 1;
            }
        }
        hs::router routes;
        api.max_item_bytes = opts.limits.max_body_bytes;
        hs::app::register_api(routes, *store, api);
        auto ready = std::make_shared<hs::app::readiness>();
        hs::app::register_probes(routes, *store, ready);
        hs::server srv(opts, std::move(routes));
        srv.start();
        ready->set_started();
        std::fprintf(stderr, "http_server listening on http://%s:%u/\n", opts.host.c_str(),
                     static_cast<unsigned>(srv.port()));
        if (notify) {
            notify->send("READY=1\nSTATUS=serving on port " + std::to_string(srv.port()) +
                         "\nMAINPID=" + std::to_string(::getpid()));
        }
        // The watchdog is fed only while every worker's loop answers (a stuck loop stops the
        // pings and systemd restarts the service); during the drain it is fed regardless.
        std::atomic<bool> stopping{false}, watchdog_done{false};
        std::thread feeder;
        struct joiner { // whatever way this block is left, the feeder stops first
            std::atomic<bool>& done;
            std::thread& t;
            ~joiner() {
                done = true;
                if (t.joinable()) {
                    t.join();
                }
            }
        } feeder_guard{watchdog_done, feeder};
        if (notify && watchdog) {
            feeder = std::thread([&] {
                const auto interval =
                    std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog);
                while (!watchdog_done.load()) {
                    const auto next = std::chrono::steady_clock::now() + interval;
                    if (stopping.load() || srv.responsive(interval)) {
                        notify->send("WATCHDOG=1");
                    }
                    while (!watchdog_done.load() && std::chrono::steady_clock::now() < next) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    }
                }
            });
        }
        const int sig = wait_for_stop(stop_signals, sink.get());
        stopping = true;
        if (notify) {
            notify->send("STOPPING=1");
        }
        ready->set_draining(); // /readyz fails from now on
        // Standard error may be a full pipe (2>&1 into a reader that stopped): never wait on it.
        hs::log::write_if_room(STDERR_FILENO, sig == SIGINT ? "http_server: SIGINT, draining\n"
                                                            : "http_server: SIGTERM, draining\n");
        // A second stop signal exits at once, whatever is in progress, until main is done
        // (acknowledged writes are durable already). The sink outlives the thread: it may
        // still reopen the log while the drain runs.
        auto finished = std::make_shared<std::atomic<bool>>(false);
        std::thread([stop_signals, sink, finished]() mutable {
            wait_for_stop(stop_signals, sink.get());
            if (!finished->load()) {
                hs::log::write_if_room(STDERR_FILENO,
                                       "http_server: second signal, exiting at once\n");
                std::_Exit(1);
            }
        }).detach();
        if (sig == SIGTERM && shutdown_delay > 0) {
            // Still serving and accepting, every response with `Connection: close`: the
            // balancer sees /readyz fail and moves away. (SIGINT, a person at a terminal, does
            // not wait.)
            srv.begin_drain();
            std::this_thread::sleep_for(seconds(shutdown_delay));
        }
        srv.stop();
        if (database != nullptr) {
            const hs::store::pg_stats st = database->stats();
            std::fprintf(stderr,
                         "http_server: PostgreSQL store: %llu operations, %llu queries in %llu "
                         "flushes (%.1f per flush, largest %llu), %llu connections made, %llu "
                         "lost or refused\n",
                         static_cast<unsigned long long>(st.operations),
                         static_cast<unsigned long long>(st.queries),
                         static_cast<unsigned long long>(st.flushes),
                         st.flushes > 0
                             ? static_cast<double>(st.queries) / static_cast<double>(st.flushes)
                             : 0.0,
                         static_cast<unsigned long long>(st.max_batch),
                         static_cast<unsigned long long>(st.connects),
                         static_cast<unsigned long long>(st.failures));
        }
        if (journaled != nullptr) {
            journaled->close();
            const hs::store::durable_stats st = journaled->stats();
            std::fprintf(stderr,
                         "http_server: durable store: %llu flushes, %llu records (%.1f per "
                         "flush, largest %llu), %llu snapshots\n",
                         static_cast<unsigned long long>(st.batches),
                         static_cast<unsigned long long>(st.records),
                         st.batches > 0
                             ? static_cast<double>(st.records) / static_cast<double>(st.batches)
                             : 0.0,
                         static_cast<unsigned long long>(st.max_batch),
                         static_cast<unsigned long long>(st.snapshots));
        }
        finished->store(true);
        if (sink) {
            // stop() flushed what it could by the deadline: what is left waits on an output
            // that is not being read, and is counted and reported instead of holding the exit.
            sink->close(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        if (sink) {
            sink->close(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
        }
        return 1;
    }
    return 0;
}
