#include "log/async_sink.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace hs::log {

std::shared_ptr<async_sink> async_sink::open(const std::string& path, std::size_t max_pending) {
    if (path.empty() || path == "-") {
        return std::make_shared<async_sink>(STDOUT_FILENO, false, max_pending);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot open access log " + path);
    }
    return std::make_shared<async_sink>(fd, true, max_pending);
}

async_sink::async_sink(int fd, bool owns_fd, std::size_t max_pending)
    : fd_(fd), owns_fd_(owns_fd), max_pending_(max_pending), thread_([this] { run(); }) {}

async_sink::~async_sink() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_writer_.notify_one();
    thread_.join();
    if (owns_fd_) {
        ::close(fd_);
    }
}

void async_sink::submit(std::string&& lines) {
    if (lines.empty()) {
        return;
    }
    std::unique_lock lock(mu_);
    progress_.wait(lock, [&] { return pending_bytes_ < max_pending_ || stop_; });
    pending_bytes_ += lines.size();
    pending_.push_back(std::move(lines));
    ++submitted_;
    lock.unlock();
    wake_writer_.notify_one();
}

void async_sink::flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = submitted_;
    progress_.wait(lock, [&] { return written_ >= target; });
}

void async_sink::run() {
    std::vector<std::string> batch;
    std::unique_lock lock(mu_);
    for (;;) {
        wake_writer_.wait(lock, [&] { return !pending_.empty() || stop_; });
        if (pending_.empty() && stop_) {
            return;
        }
        batch.swap(pending_);
        pending_bytes_ = 0;
        lock.unlock();
        write_all(batch);
        const std::size_t n = batch.size();
        batch.clear();
        lock.lock();
        written_ += n;
        progress_.notify_all();
    }
}

void async_sink::write_all(const std::vector<std::string>& batch) noexcept {
    std::size_t i = 0;
    std::size_t offset = 0; // into batch[i]
    while (i < batch.size()) {
        iovec iov[64];
        int count = 0;
        for (std::size_t j = i; j < batch.size() && count < 64; ++j, ++count) {
            const std::size_t skip = j == i ? offset : 0;
            iov[count].iov_base = const_cast<char*>(batch[j].data() + skip);
            iov[count].iov_len = batch[j].size() - skip;
        }
        const ssize_t n = ::writev(fd_, iov, count);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (!reported_error_) {
                reported_error_ = true;
                std::fprintf(stderr, "http_server: access log write failed: %s\n",
                             std::strerror(errno));
            }
            return;
        }
        auto left = static_cast<std::size_t>(n);
        while (i < batch.size() && left >= batch[i].size() - offset) {
            left -= batch[i].size() - offset;
            offset = 0;
            ++i;
        }
        offset += left;
    }
}

} // namespace hs::log
