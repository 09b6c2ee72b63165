#pragma once
/// \file A worker's access-log lines, formatted locally and handed to the sink in batches.
#include <cstdint>
#include <string>

#include "hs/access_log.hpp"

namespace hs::server_detail {

/// One hand-over per `batch_bytes` or `batch_ms` (as nginx's `buffer=` / `flush=`): the writer
/// thread is woken a few times a second, not once per loop iteration. Loop thread only.
class log_batch {
public:
    static constexpr std::size_t batch_bytes = 32 * 1024;
    static constexpr std::int64_t batch_ms = 100;

    log_batch(access_log_sink* sink, access_log_format format) noexcept
        : sink_(sink), format_(format) {}

    bool enabled() const noexcept { return sink_ != nullptr; }
    bool empty() const noexcept { return buf_.empty(); }
    void append(const access_record& rec) { format_access_line(buf_, rec, format_); }

    /// Hands the lines over when the batch is full or old enough (or \p force).
    void maybe_submit(std::int64_t now_ms, bool force = false) {
        if (buf_.empty() || sink_ == nullptr) {
            return;
        }
        if (force || buf_.size() >= batch_bytes || now_ms - submitted_ms_ >= batch_ms) {
            sink_->submit(std::move(buf_));
            buf_ = std::string();
            buf_.reserve(batch_bytes + 1024);
            submitted_ms_ = now_ms;
        }
    }

private:
    access_log_sink* sink_;
    access_log_format format_;
    std::string buf_;
    std::int64_t submitted_ms_ = 0;
};

} // namespace hs::server_detail
