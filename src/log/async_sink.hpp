#pragma once
/// \file The access log's writer thread: workers hand over batches, one thread writes them.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hs/access_log.hpp"

namespace hs::log {

/// Writes \p text (at most PIPE_BUF bytes) to \p fd only if it has room now: for messages to
/// standard error, which may be a pipe nobody reads. Never blocks.
void write_if_room(int fd, std::string_view text) noexcept;

/// Writes batches of lines to a file descriptor from its own thread, so a slow disk or a
/// reader that stopped reading never stalls a worker's loop.
///
/// - submit() never blocks. When more than `max_pending` bytes already wait (the output is not
///   keeping up: a full pipe, a paused pager), the batch is dropped and its lines counted;
///   the count goes to standard error (at most once a minute between batches, and at close).
///   The writer holds at most one more bound's worth while it writes.
/// - The writer never blocks in a write it cannot give up: on a pipe, socket or terminal it
///   writes at most PIPE_BUF bytes at a time, cut at a line's end, non-blocking (a pipe or a
///   terminal is reopened through /proc for that; a socket is sent MSG_DONTWAIT) or after
///   POLLOUT, and waits for room in short steps, so close() can stop it at a deadline. On a
///   pipe no line is ever torn; a terminal or socket may take part of a line, and a line cut by
///   the close deadline there stays torn. A regular file (or /dev/null)
///   is written directly, in large writes.
class async_sink final : public access_log_sink {
public:
    /// "-" or "" is standard output; anything else is a file opened for appending.
    /// Throws std::system_error when the file cannot be opened.
    static std::shared_ptr<async_sink> open(const std::string& path,
                                            std::size_t max_pending = 64 * 1024 * 1024);

    async_sink(int fd, bool owns_fd, std::size_t max_pending, int report_fd = 2);
    /// close() with a one-second deadline.
    ~async_sink() override;
    async_sink(const async_sink&) = delete;
    async_sink& operator=(const async_sink&) = delete;

    void submit(std::string&& lines) override;
    bool flush(std::chrono::steady_clock::time_point deadline) override;

    /// Writes what is pending until \p deadline, then stops the writer; lines still unwritten
    /// are counted as dropped and reported. Idempotent.
    void close(std::chrono::steady_clock::time_point deadline);

    /// Opens the file again by its path (SIGUSR1, after logrotate renamed it): the writer
    /// finishes the batch it has in hand on the old file, then writes to the new one, so no
    /// line is lost, duplicated or split between the two. From any thread; a no-op for
    /// standard output or a descriptor. If the path cannot be opened, the old file is kept and
    /// the error reported.
    void reopen();
    /// Reopens done so far (for tests).
    std::uint64_t reopens() const noexcept { return reopens_.load(); }

    /// Lines dropped so far (over the bound, or unwritten at close).
    std::uint64_t dropped_lines() const noexcept { return dropped_lines_.load(); }

private:
    enum class kind : std::uint8_t { file, pipe, socket, terminal };

    void run();
    /// Writes one batch; false when it gave up (close deadline passed) or the output failed.
    bool write_all(const std::vector<std::string>& batch);
    /// Waits until the output can take bytes; false once the close deadline has passed.
    bool wait_writable();
    void report(const std::string& text) noexcept;
    /// On the writer thread: opens path_ again and writes to it from now on.
    void reopen_file();
    void count_dropped(const std::string& lines) noexcept;

    int fd_;
    int out_fd_; ///< what is written to: fd_, or a private non-blocking reopening of a pipe
    bool nonblocking_ = false;
    bool owns_fd_;
    std::size_t max_pending_;
    int report_fd_;
    kind kind_ = kind::file;
    std::mutex mu_;
    std::condition_variable wake_writer_;
    std::condition_variable progress_;
    std::vector<std::string> pending_;
    std::size_t pending_bytes_ = 0;
    std::uint64_t submitted_ = 0; ///< batches handed over
    std::uint64_t written_ = 0;   ///< batches written (or given up on)
    std::uint64_t failed_ = 0;    ///< batches given up on (output error or close deadline)
    bool stop_ = false;
    bool closed_ = false;
    bool reopen_requested_ = false;
    std::string path_; ///< the file's path when opened by path (reopen() uses it)
    std::atomic<std::uint64_t> reopens_{0};
    std::atomic<std::int64_t> give_up_at_ns_{INT64_MAX}; ///< steady clock; writer gives up past it
    std::atomic<std::uint64_t> dropped_lines_{0};
    std::uint64_t reported_lines_ = 0;
    std::chrono::steady_clock::time_point last_report_{};
    bool reported_error_ = false;
    std::thread thread_;
};

} // namespace hs::log
