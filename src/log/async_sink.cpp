#include "log/async_sink.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace hs::log {
namespace {

std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::uint64_t count_lines(const std::string& s) {
    return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

std::shared_ptr<async_sink> async_sink::open(const std::string& path, std::size_t max_pending) {
    if (path.empty() || path == "-") {
        return std::make_shared<async_sink>(STDOUT_FILENO, false, max_pending);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot open access log " + path);
    }
    auto sink = std::make_shared<async_sink>(fd, true, max_pending);
    std::lock_guard lock(sink->mu_);
    sink->path_ = path;
    return sink;
}

void async_sink::reopen_file() {
    std::string path;
    {
        std::lock_guard lock(mu_);
        path = path_;
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        report("http_server: access log: cannot reopen " + path + ": " + std::strerror(errno) +
               "; still writing to the old file\n");
        return;
    }
    ::close(fd_);
    fd_ = fd;
    out_fd_ = fd;
    reported_error_ = false; // a new file: its errors are news
    reopens_.fetch_add(1);
}

void async_sink::reopen() {
    {
        std::lock_guard lock(mu_);
        if (stop_ || path_.empty() || kind_ != kind::file) {
            return; // standard output, a pipe, a socket: nothing to reopen
        }
        reopen_requested_ = true;
    }
    wake_writer_.notify_one();
}

async_sink::async_sink(int fd, bool owns_fd, std::size_t max_pending, int report_fd)
    : fd_(fd), owns_fd_(owns_fd), max_pending_(max_pending), report_fd_(report_fd) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
        if (S_ISFIFO(st.st_mode)) {
            kind_ = kind::pipe;
        } else if (S_ISSOCK(st.st_mode)) {
            kind_ = kind::socket;
        } else if (S_ISCHR(st.st_mode) && ::isatty(fd_) == 1) {
            kind_ = kind::terminal;
        }
    }
    out_fd_ = fd_;
    if (kind_ == kind::pipe || kind_ == kind::terminal) {
        // A private, non-blocking open file description of the same pipe or terminal: O_NONBLOCK
        // on the inherited one would change it for every process that shares it (the shell, a
        // supervisor). Without /proc, every write waits for POLLOUT first instead (a terminal
        // with a little room may then still block a write: see docs/DECISIONS.md).
        const std::string self = "/proc/self/fd/" + std::to_string(fd_);
        const int own = ::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (own >= 0) {
            out_fd_ = own;
        }
    }
    const int flags = ::fcntl(out_fd_, F_GETFL);
    nonblocking_ = kind_ == kind::socket || (flags >= 0 && (flags & O_NONBLOCK) != 0);
    thread_ = std::thread([this] { run(); });
}

async_sink::~async_sink() {
    close(std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

void async_sink::submit(std::string&& lines) {
    if (lines.empty()) {
        return;
    }
    std::unique_lock lock(mu_);
    if (stop_ || pending_bytes_ + lines.size() > max_pending_) {
        lock.unlock();
        count_dropped(lines); // the output is not keeping up: never stall the caller's loop
        return;
    }
    pending_bytes_ += lines.size();
    pending_.push_back(std::move(lines));
    ++submitted_;
    lock.unlock();
    wake_writer_.notify_one();
}

bool async_sink::flush(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    const std::uint64_t target = submitted_;
    const std::uint64_t failed_before = failed_;
    return progress_.wait_until(lock, deadline, [&] { return written_ >= target; }) &&
           failed_ == failed_before;
}

void async_sink::close(std::chrono::steady_clock::time_point deadline) {
    {
        std::lock_guard lock(mu_);
        if (closed_) {
            return;
        }
        closed_ = true;
        stop_ = true;
    }
    give_up_at_ns_.store(steady_ns(deadline));
    wake_writer_.notify_one();
    thread_.join();
    // Whatever was still queued when the writer gave up.
    for (const std::string& s : pending_) {
        count_dropped(s);
    }
    pending_.clear();
    const std::uint64_t dropped = dropped_lines_.load();
    if (dropped > 0) {
        report("http_server: access log: " + std::to_string(dropped) +
               " lines were dropped in all (the log output did not keep up)\n");
    }
    if (out_fd_ != fd_) {
        ::close(out_fd_);
    }
    if (owns_fd_) {
        ::close(fd_);
    }
}

void async_sink::count_dropped(const std::string& lines) noexcept {
    dropped_lines_.fetch_add(count_lines(lines));
}

void async_sink::run() {
    std::vector<std::string> batch;
    std::unique_lock lock(mu_);
    for (;;) {
        wake_writer_.wait(lock, [&] { return !pending_.empty() || stop_ || reopen_requested_; });
        // A reopen asked for now happens after this batch: those lines go to the old file,
        // the next batches to the new one.
        const bool reopen_after = reopen_requested_;
        reopen_requested_ = false;
        if (pending_.empty() && stop_) {
            return;
        }
        batch.swap(pending_);
        pending_bytes_ = 0;
        lock.unlock();
        const bool ok = write_all(batch);
        const std::size_t n = batch.size();
        batch.clear();
        if (reopen_after) {
            reopen_file();
        }
        // Report drops now and then, from this thread (never from a worker's loop).
        const auto now = std::chrono::steady_clock::now();
        const std::uint64_t dropped = dropped_lines_.load();
        if (dropped != reported_lines_ && now - last_report_ >= std::chrono::minutes(1)) {
            report("http_server: access log: " + std::to_string(dropped - reported_lines_) +
                   " lines dropped: the log output is not keeping up\n");
            reported_lines_ = dropped;
            last_report_ = now;
        }
        lock.lock();
        written_ += n;
        failed_ += ok ? 0 : 1;
        progress_.notify_all();
        if (!ok && stop_) {
            return; // gave up at close: the rest is counted by close()
        }
    }
}

bool async_sink::wait_writable() {
    for (;;) {
        if (steady_ns(std::chrono::steady_clock::now()) >= give_up_at_ns_.load()) {
            return false;
        }
        pollfd p{out_fd_, POLLOUT, 0};
        const int rc = ::poll(&p, 1, 50);
        if (rc > 0) {
            return true; // writable, or an error the write will report
        }
        if (rc < 0 && errno != EINTR) {
            return false;
        }
    }
}

bool async_sink::write_all(const std::vector<std::string>& batch) {
    std::size_t i = 0;
    std::size_t offset = 0; // into batch[i]
    // Giving up: every line not wholly written is counted as dropped.
    auto give_up = [&] {
        for (std::size_t j = i; j < batch.size(); ++j) {
            const std::size_t skip = j == i ? offset : 0;
            dropped_lines_.fetch_add(static_cast<std::uint64_t>(std::count(
                batch[j].begin() + static_cast<std::ptrdiff_t>(skip), batch[j].end(), '\n')));
        }
        return false;
    };
    while (i < batch.size()) {
        iovec iov[64];
        int count = 0;
        if (kind_ == kind::file) {
            for (std::size_t j = i; j < batch.size() && count < 64; ++j, ++count) {
                const std::size_t skip = j == i ? offset : 0;
                iov[count].iov_base = const_cast<char*>(batch[j].data() + skip);
                iov[count].iov_len = batch[j].size() - skip;
            }
        } else {
            // An output that can block indefinitely: at most PIPE_BUF bytes a write (all or
            // nothing on a pipe, and room for it is what POLLOUT promises), cut where a line
            // ends, so neither a full pipe nor giving up at close leaves a torn line.
            std::size_t total = 0;
            for (std::size_t j = i; j < batch.size() && count < 64 && total < PIPE_BUF;
                 ++j, ++count) {
                const std::size_t skip = j == i ? offset : 0;
                const std::size_t len = std::min(batch[j].size() - skip, PIPE_BUF - total);
                iov[count].iov_base = const_cast<char*>(batch[j].data() + skip);
                iov[count].iov_len = len;
                total += len;
            }
            if (total == PIPE_BUF) {
                const auto* base = static_cast<const char*>(iov[count - 1].iov_base);
                std::size_t keep = iov[count - 1].iov_len;
                while (keep > 0 && base[keep - 1] != '\n') {
                    --keep;
                }
                if (keep > 0) {
                    iov[count - 1].iov_len = keep;
                } else if (count > 1) {
                    --count;
                } // else: one line longer than PIPE_BUF, written in pieces
            }
            if (!nonblocking_ && !wait_writable()) {
                return give_up();
            }
        }
        ssize_t n = 0;
        if (kind_ == kind::socket) {
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = static_cast<std::size_t>(count);
            n = ::sendmsg(out_fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            n = ::writev(out_fd_, iov, count);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_writable()) {
                    return give_up();
                }
                continue;
            }
            if (!reported_error_) {
                reported_error_ = true;
                report(std::string("http_server: access log write failed: ") +
                       std::strerror(errno) + "\n");
            }
            return give_up();
        }
        auto left = static_cast<std::size_t>(n);
        while (i < batch.size() && left >= batch[i].size() - offset) {
            left -= batch[i].size() - offset;
            offset = 0;
            ++i;
        }
        offset += left;
    }
    return true;
}

void write_if_room(int fd, std::string_view text) noexcept {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0) {
        [[maybe_unused]] const auto n =
            ::write(fd, text.data(), std::min<std::size_t>(text.size(), PIPE_BUF));
    }
}

void async_sink::report(const std::string& text) noexcept {
    write_if_room(report_fd_, text); // standard error may be the same stalled pipe
}

} // namespace hs::log
