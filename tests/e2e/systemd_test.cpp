// systemd's side, through the real binary: socket activation with systemd-socket-activate
// (the server serves the socket it was given), and the notify protocol read from a test
// socket (READY=1 once serving, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "e2e/server_process.hpp"

extern char** environ;

namespace hs::test {
namespace {

std::uint16_t free_port() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
}

TEST(systemd, socket_activation_serves_the_socket_it_was_given) {
    const std::uint16_t port = free_port();
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    std::vector<std::string> args = {"systemd-socket-activate", "-l",           listen,
                                     HS_SERVER_BINARY,          "--access-log", "off"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = -1;
    ASSERT_EQ(
        ::posix_spawnp(&pid, "systemd-socket-activate", nullptr, nullptr, argv.data(), environ), 0);
    // The socket exists before the server does; the first connection starts it.
    std::optional<http_response> r;
    for (int i = 0; i < 100 && !r; ++i) {
        try { // refused until the activator listens
            r = request_once(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        } catch (const std::exception&) {
        }
        if (!r) {
            std::this_thread::sleep_for(50ms);
        }
    }
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // Ready once start() has returned (a request may be served a moment before that).
    int ready = 0;
    for (int i = 0; i < 100 && ready != 200; ++i) {
        ready = request_once(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")->status;
        if (ready != 200) {
            std::this_thread::sleep_for(20ms);
        }
    }
    EXPECT_EQ(ready, 200);
    // The activator exec'd the server: same PID. SIGTERM drains and exits 0.
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

/// A datagram socket standing in for systemd's notification socket.
class notify_socket {
public:
    notify_socket()
        : path_(
              (std::filesystem::temp_directory_path() / ("hs-notify-" + std::to_string(::getpid())))
                  .string()) {
        std::filesystem::remove(path_);
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    ~notify_socket() {
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    const std::string& path() const { return path_; }
    /// The next datagram within \p timeout ("" on timeout).
    std::string next(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return "";
        }
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }
    /// Waits for a datagram holding \p what, skipping others; false on timeout.
    bool wait_for(const std::string& what, std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            const std::string m = next(std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now()));
            if (m.find(what) != std::string::npos) {
                return true;
            }
        }
        return false;
    }

private:
    std::string path_;
    int fd_ = -1;
};

TEST(systemd, notifies_ready_feeds_the_watchdog_and_notifies_stopping) {
    notify_socket ns;
    ::setenv("NOTIFY_SOCKET", ns.path().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "200000", 1); // pings every 100 ms
    server_process s;
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    const std::string ready = ns.next(5s);
    EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
    EXPECT_NE(ready.find("MAINPID=" + std::to_string(s.pid())), std::string::npos) << ready;
    int pings = 0;
    const auto end = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < end) {
        pings += ns.next(200ms) == "WATCHDOG=1" ? 1 : 0;
    }
    EXPECT_GE(pings, 5); // ~10 in a second
    EXPECT_LE(pings, 15);
    ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
    EXPECT_TRUE(ns.wait_for("STOPPING=1", 5s));
    EXPECT_EQ(s.stop(0), 0);
}

} // namespace
} // namespace hs::test
