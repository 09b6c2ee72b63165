#pragma once
/// \file The access log's writer thread: workers hand over batches, one thread writes them.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hs/access_log.hpp"

namespace hs::log {

/// Writes batches of lines to a file descriptor from its own thread, so a slow disk never
/// stalls a worker's loop. Bounded: when more than `max_pending` bytes wait, submit() blocks
/// until the writer catches up (requests slow down; no line is dropped). The destructor writes
/// everything submitted before it returns.
class async_sink final : public access_log_sink {
public:
    /// "-" or "" is standard output; anything else is a file opened for appending.
    /// Throws std::system_error when the file cannot be opened.
    static std::shared_ptr<async_sink> open(const std::string& path,
                                            std::size_t max_pending = 8 * 1024 * 1024);

    async_sink(int fd, bool owns_fd, std::size_t max_pending);
    ~async_sink() override;
    async_sink(const async_sink&) = delete;
    async_sink& operator=(const async_sink&) = delete;

    void submit(std::string&& lines) override;
    void flush() override;

private:
    void run();
    void write_all(const std::vector<std::string>& batch) noexcept;

    int fd_;
    bool owns_fd_;
    std::size_t max_pending_;
    std::mutex mu_;
    std::condition_variable wake_writer_;
    std::condition_variable progress_;
    std::vector<std::string> pending_;
    std::size_t pending_bytes_ = 0;
    std::uint64_t submitted_ = 0; ///< batches handed over
    std::uint64_t written_ = 0;   ///< batches written
    bool stop_ = false;
    bool reported_error_ = false;
    std::thread thread_;
};

} // namespace hs::log
