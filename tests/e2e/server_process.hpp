#pragma once
// Starts the real http_server on 127.0.0.1 with an ephemeral port, learns the port from its
// first stderr line, and stops it by PID. Plus a raw-bytes client.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::test {

using namespace std::chrono_literals;

class server_process {
public:
    /// Extra command-line arguments; `--port 0` and an access log file are always given (unless
    /// args name `--access-log` or `--port`). \p stdout_fd, when >= 0, becomes the server's
    /// standard output (else /dev/null).
    explicit server_process(std::vector<std::string> args = {}, int stdout_fd = -1);
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    std::uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& log_path() const { return log_path_; }
    /// Sends \p sig and waits up to \p timeout; returns the exit code (or 128+signal), -1 on
    /// timeout.
    int stop(int sig = 15, std::chrono::milliseconds timeout = 15s);
    bool running();
    std::string read_log() const;
    /// What the server wrote to standard error after its first line, until EOF (after stop())
    /// or \p timeout.
    std::string read_stderr(std::chrono::milliseconds timeout = 2s);
    /// What the server wrote to standard error up to its listening line (recovery notes).
    const std::string& startup_output() const { return startup_; }
    /// Number of open descriptors of the server process.
    std::size_t open_fds() const;
    /// Resident set size in KiB.
    std::size_t rss_kib() const;
    /// The peak resident set size (VmHWM) in KiB since the start or the last reset_peak_rss().
    std::size_t peak_rss_kib() const;
    /// Sets the peak back to the current RSS (/proc/PID/clear_refs, "5"); false if refused.
    bool reset_peak_rss() const;

private:
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string dir_;
    std::string log_path_;
    int stderr_fd_ = -1;
    std::string startup_;
};

struct http_response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;       ///< decoded: without the chunked coding's framing
    std::size_t chunks = 0; ///< chunks of a chunked body (0: framed by Content-Length)
    std::optional<std::string> header(std::string_view name) const;
};

class client {
public:
    explicit client(std::uint16_t port);
    ~client();
    client(client&& o) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool send(std::string_view bytes);
    /// Reads one response framed by Content-Length or chunked (or bodiless by status / HEAD).
    /// nullopt on EOF, reset or timeout before a whole response arrived, or a malformed chunk.
    std::optional<http_response> read_response(std::chrono::milliseconds timeout = 5s,
                                               bool head = false);
    /// True when the server closed the connection (EOF or reset) within \p timeout and sent
    /// nothing more.
    bool closed_by_server(std::chrono::milliseconds timeout = 3s);
    /// Everything until EOF or timeout.
    std::string read_until_close(std::chrono::milliseconds timeout = 5s);
    void shutdown_write();
    void reset(); ///< close with RST (SO_LINGER 0)
    int fd() const { return fd_; }

private:
    /// Appends what one recv returns before \p deadline; false on timeout, EOF or reset.
    bool receive(std::string& into, std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string pending_;
};

/// What a run of the binary to completion printed (stdout and stderr) and its exit status.
struct run_result {
    int status = -1;
    std::string output;
};
/// Runs the server binary with \p args (shell words) to completion; \p env is prepended
/// ("PORT=1"). For runs that must exit by themselves (bad flags, a port in use).
run_result run_binary(const std::string& args, const std::string& env = "");

/// One request on a fresh connection.
std::optional<http_response> request_once(std::uint16_t port, std::string_view raw);
/// `GET / HTTP/1.1` on a new connection answers 200.
bool serves(std::uint16_t port);
/// Like serves(), but a refused connection is false rather than an exception.
bool serves_quietly(std::uint16_t port);

} // namespace hs::test
