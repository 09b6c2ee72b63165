// The access-log writer when its output stops draining: submit() never blocks a worker, the
// loss is counted, close() ends at its deadline, no line is torn; and EAGAIN is waited out.
#include "log/async_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <thread>

namespace hs {
namespace {

using namespace std::chrono_literals;

std::string batch_of(int first, int lines) {
    std::string s;
    for (int i = first; i < first + lines; ++i) {
        s += "line " + std::to_string(i) + " " + std::string(80, 'x') + "\n";
    }
    return s;
}

std::string drain(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(async_sink, a_full_pipe_never_blocks_submit_and_the_loss_is_counted) {
    int out[2];
    int err[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(err, O_CLOEXEC | O_NONBLOCK), 0);
    constexpr int batches = 400;
    constexpr int per_batch = 20; // about 1.8 KiB a batch, 700 KiB in all: the pipe holds 64
    {
        log::async_sink sink(out[1], false, 128 * 1024, err[1]);
        // Submitting must finish although nobody reads: a blocked submit would hang here.
        auto submitting = std::async(std::launch::async, [&] {
            for (int b = 0; b < batches; ++b) {
                sink.submit(batch_of(b * per_batch, per_batch));
            }
        });
        ASSERT_EQ(submitting.wait_for(30s), std::future_status::ready);
        EXPECT_GT(sink.dropped_lines(), 0u); // over the 128 KiB bound
        EXPECT_FALSE(sink.flush(std::chrono::steady_clock::now() + 200ms));
        auto closing = std::async(std::launch::async,
                                  [&] { sink.close(std::chrono::steady_clock::now() + 200ms); });
        ASSERT_EQ(closing.wait_for(30s), std::future_status::ready) << "close() hung";
        const std::uint64_t dropped = sink.dropped_lines();
        ::close(out[1]);
        const std::string written = drain(out[0]);
        EXPECT_EQ(count_lines(written) + dropped, static_cast<std::size_t>(batches * per_batch));
        ASSERT_FALSE(written.empty());
        EXPECT_EQ(written.back(), '\n') << "a torn last line";
        const std::string report = drain(err[0]);
        EXPECT_NE(report.find(std::to_string(dropped) + " lines were dropped in all"),
                  std::string::npos)
            << report;
    }
    ::close(out[0]);
    ::close(err[0]);
    ::close(err[1]);
}

TEST(async_sink, a_non_blocking_output_that_fills_loses_nothing) {
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(::fcntl(out[1], F_SETFL, O_NONBLOCK), 0);
    std::string written; // the reader's until it ends at EOF
    std::thread reader([&] {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) {
                return;
            }
            written.append(buf, static_cast<std::size_t>(n));
            std::this_thread::sleep_for(1ms); // slower than the writer: the pipe fills
        }
    });
    constexpr int batches = 200;
    constexpr int per_batch = 20;
    {
        log::async_sink sink(out[1], false, 64 * 1024 * 1024);
        for (int b = 0; b < batches; ++b) {
            sink.submit(batch_of(b * per_batch, per_batch));
        }
        EXPECT_TRUE(sink.flush(std::chrono::steady_clock::now() + 60s));
        EXPECT_EQ(sink.dropped_lines(), 0u);
    }
    ::close(out[1]); // the reader sees EOF once it took everything
    reader.join();
    ::close(out[0]);
    EXPECT_EQ(count_lines(written), static_cast<std::size_t>(batches * per_batch));
}

} // namespace
} // namespace hs
