#include "e2e/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace hs::test {
namespace {

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

} // namespace

server_process::server_process(std::vector<std::string> args, int stdout_fd) {
    char tmpl[] = "/tmp/hs-e2e-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    dir_ = tmpl;
    log_path_ = dir_ + "/access.log";
    bool has_log = false;
    bool has_port = false;
    for (const auto& a : args) {
        has_log = has_log || a == "--access-log";
        has_port = has_port || a == "--port";
    }
    std::vector<std::string> argv_s = {HS_SERVER_BINARY};
    if (!has_port) {
        argv_s.insert(argv_s.end(), {"--port", "0"});
    }
    if (!has_log) {
        argv_s.insert(argv_s.end(), {"--access-log", log_path_});
    }
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe failed");
    }
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(pipefd[1], 2);
        if (stdout_fd >= 0) {
            ::dup2(stdout_fd, 1);
        } else {
            const int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
        }
        std::vector<char*> argv;
        for (auto& s : argv_s) {
            argv.push_back(s.data());
        }
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    stderr_fd_ = pipefd[0];
    // The line "http_server listening on http://127.0.0.1:PORT/" (a durable store may log its
    // recovery before it).
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    const auto listening = [&] {
        const std::size_t at = line.find("listening on http://");
        return at != std::string::npos && line.find('\n', at) != std::string::npos;
    };
    while (!listening()) {
        pollfd p{stderr_fd_, POLLIN, 0};
        if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) {
            throw std::runtime_error("server did not start: " + line);
        }
        char buf[256];
        if ((p.revents & (POLLIN | POLLHUP)) != 0) {
            const ssize_t n = ::read(stderr_fd_, buf, sizeof buf);
            if (n <= 0) {
                throw std::runtime_error("server exited at start: " + line);
            }
            line.append(buf, static_cast<std::size_t>(n));
        }
    }
    startup_ = line;
    line = line.substr(0, line.find('\n', line.find("listening on http://")));
    const auto colon = line.rfind(':');
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

server_process::~server_process() {
    if (pid_ > 0) {
        stop(SIGKILL, 5s);
    }
    if (stderr_fd_ >= 0) {
        ::close(stderr_fd_);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

bool server_process::running() {
    if (pid_ <= 0) {
        return false;
    }
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
}

int server_process::stop(int sig, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            return -1;
        }
        std::this_thread::sleep_for(10ms);
    }
}

run_result run_binary(const std::string& args, const std::string& env) {
    const std::string cmd = env + " " + HS_SERVER_BINARY + " " + args + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
    std::string out;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) {
        out += buf.data();
    }
    const int raw = ::pclose(pipe.release());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
}

std::string server_process::read_stderr(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (stderr_fd_ >= 0 && std::chrono::steady_clock::now() < deadline) {
        pollfd p{stderr_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[4096];
        const ssize_t n = ::read(stderr_fd_, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string server_process::read_log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t server_process::open_fds() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd")) {
        ++n;
    }
    return n;
}

namespace {
std::size_t status_kib(pid_t pid, std::string_view field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) == 0) {
            return std::stoul(line.substr(field.size()));
        }
    }
    return 0;
}
} // namespace

std::size_t server_process::rss_kib() const {
    return status_kib(pid_, "VmRSS:");
}

std::size_t server_process::peak_rss_kib() const {
    return status_kib(pid_, "VmHWM:");
}

bool server_process::reset_peak_rss() const {
    std::ofstream out("/proc/" + std::to_string(pid_) + "/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

std::optional<std::string> http_response::header(std::string_view name) const {
    const std::string n = lower(std::string(name));
    for (const auto& [k, v] : headers) {
        if (lower(k) == n) {
            return v;
        }
    }
    return std::nullopt;
}

client::client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

client::client(client&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) {
    o.fd_ = -1;
}

client::~client() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool client::send(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void client::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

void client::reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
}

std::optional<http_response> client::read_response(std::chrono::milliseconds timeout, bool head) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto fill = [&] { return receive(pending_, deadline); };
    for (;;) {
        const auto end = pending_.find("\r\n\r\n");
        if (end != std::string::npos) {
            http_response r;
            std::istringstream head_in(pending_.substr(0, end));
            std::string line;
            std::getline(head_in, line);
            if (line.size() < 12 || line.rfind("HTTP/1.1 ", 0) != 0) {
                return std::nullopt;
            }
            r.status = std::stoi(line.substr(9, 3));
            r.reason = line.substr(13, line.size() - 14);
            while (std::getline(head_in, line)) {
                if (!line.empty() && line.back() == '\r') {
                    line.pop_back();
                }
                const auto colon = line.find(':');
                if (colon != std::string::npos) {
                    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
                }
            }
            std::size_t length = 0;
            const bool bodiless = head || r.status < 200 || r.status == 204 || r.status == 304;
            if (!bodiless && r.header("transfer-encoding") == "chunked") {
                // Strict: hex size, CRLF, data, CRLF; "0" CRLF CRLF ends it (we send no trailers).
                std::size_t at = end + 4;
                for (;;) {
                    std::size_t eol;
                    while ((eol = pending_.find("\r\n", at)) == std::string::npos) {
                        if (!fill()) {
                            return std::nullopt;
                        }
                    }
                    const std::string size_text = pending_.substr(at, eol - at);
                    if (size_text.empty() || size_text.size() > 15 ||
                        size_text.find_first_not_of("0123456789abcdef") != std::string::npos) {
                        return std::nullopt;
                    }
                    const std::size_t size = std::stoul(size_text, nullptr, 16);
                    while (pending_.size() < eol + 2 + size + 2) {
                        if (!fill()) {
                            return std::nullopt;
                        }
                    }
                    if (pending_.compare(eol + 2 + size, 2, "\r\n") != 0) {
                        return std::nullopt;
                    }
                    r.body.append(pending_, eol + 2, size);
                    at = eol + 2 + size + 2;
                    if (size == 0) {
                        break;
                    }
                    ++r.chunks;
                }
                pending_.erase(0, at);
                return r;
            }
            if (!bodiless) {
                if (auto cl = r.header("content-length")) {
                    length = std::stoul(*cl);
                }
            }
            while (pending_.size() < end + 4 + length) {
                if (!fill()) {
                    return std::nullopt;
                }
            }
            r.body = pending_.substr(end + 4, length);
            pending_.erase(0, end + 4 + length);
            return r;
        }
        if (!fill()) {
            return std::nullopt;
        }
    }
}

bool client::closed_by_server(std::chrono::milliseconds timeout) {
    if (!pending_.empty()) {
        return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
        return false;
    }
    char buf[256];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n <= 0;
}

std::string client::read_until_close(std::chrono::milliseconds timeout) {
    std::string out = std::move(pending_);
    pending_.clear();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (receive(out, deadline)) {
    }
    return out;
}

bool client::receive(std::string& into, std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return false;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
        return false;
    }
    into.append(buf, static_cast<std::size_t>(n));
    return true;
}

std::optional<http_response> request_once(std::uint16_t port, std::string_view raw) {
    client c(port);
    c.send(raw);
    return c.read_response();
}

bool serves(std::uint16_t port) {
    auto r = request_once(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    return r && r->status == 200;
}

bool serves_quietly(std::uint16_t port) {
    try {
        return serves(port);
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace hs::test
