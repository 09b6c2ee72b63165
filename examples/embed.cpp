// The engine without the application: one route, one server, stopped by Ctrl-C.
#include <signal.h>

#include "hs/server.hpp"

int main() {
    hs::router routes;
    routes.add("GET", "/hello/{name}", [](const hs::request&, const hs::path_params& p) {
        return hs::response(200, "text/plain", "hello " + std::string(p.get("name")) + "\n");
    });
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    hs::server_options options;
    options.port = 8081;
    hs::server srv(options, std::move(routes));
    srv.start();
    int sig = 0;
    sigwait(&stop, &sig);
    srv.stop();
}
