// The engine's loop used the way a database client uses it: each worker builds its own client
// in the start hook, registers the client's descriptor and a timer on that worker's loop, and
// the worker's handlers reach it through request::worker. Here the "database" is an eventfd that
// a timer makes readable once a second (a stand-in for a socket a driver such as libpq hands
// out), and GET /ticks answers how many answers this worker's client has read.
//
//   build/debug/loop_client_example 8082 &   curl http://127.0.0.1:8082/ticks
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "hs/loop.hpp"
#include "hs/server.hpp"

namespace {

using namespace std::chrono_literals;

/// One per worker: a descriptor with its own handler and a timer, all on that worker's loop.
class fake_db_client final : public hs::net::io_handler {
public:
    explicit fake_db_client(hs::net::loop& l)
        : loop_(l), fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), poll_([this] { ask(); }) {
        // Register for input; a real driver would also ask for EPOLLOUT while it has bytes to
        // flush, and drop it again with loop.modify() once flushed.
        loop_.add(fd_, EPOLLIN, *this);
        loop_.schedule(poll_, 1s);
    }
    ~fake_db_client() {
        poll_.cancel();
        loop_.remove(fd_, *this);
        ::close(fd_);
    }
    fake_db_client(const fake_db_client&) = delete;
    fake_db_client& operator=(const fake_db_client&) = delete;

    /// Readiness of the client's descriptor (on the worker's thread).
    void on_io(std::uint32_t) override {
        std::uint64_t n = 0;
        while (::read(fd_, &n, sizeof n) == sizeof n) {
            answers_ += n;
        }
    }
    std::uint64_t answers() const noexcept { return answers_; }

private:
    /// The timer's callback: "send a query"; the answer makes the descriptor readable.
    void ask() {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto w = ::write(fd_, &one, sizeof one);
        loop_.schedule(poll_, 1s);
    }

    hs::net::loop& loop_;
    int fd_;
    hs::net::timer poll_;
    std::uint64_t answers_ = 0;
};

} // namespace

int main(int argc, char** argv) {
    hs::router routes;
    routes.add("GET", "/ticks", [](const hs::request& rq, const hs::path_params&) {
        const auto& client = rq.worker->state_as<fake_db_client>();
        return hs::response(200, "text/plain",
                            "worker " + std::to_string(rq.worker->index) + ": " +
                                std::to_string(client.answers()) + " answers\n");
    });
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    hs::server_options options;
    options.port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8082);
    options.threads = 2;
    options.on_worker_start = [](hs::worker_context& w) {
        w.state = std::make_shared<fake_db_client>(w.loop); // built on the worker's own thread
    };
    options.on_worker_stop = [](hs::worker_context& w) { w.state.reset(); };
    hs::server srv(options, std::move(routes));
    srv.start();
    std::fprintf(stderr, "loop_client_example on http://127.0.0.1:%u/ticks\n",
                 static_cast<unsigned>(srv.port()));
    int sig = 0;
    sigwait(&stop, &sig);
    srv.stop();
}
