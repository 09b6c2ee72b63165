#pragma once
/// \file The access log's extension point: records, formats and the sink that writes them.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hs {

/// What one access-log line says about one request.
struct access_record {
    std::string_view peer;
    std::string_view method;
    std::string_view target;
    int version_minor = 1;
    int status = 0;
    std::uint64_t body_bytes = 0; ///< response body bytes (nginx's $body_bytes_sent)
    std::string_view referer;
    std::string_view user_agent;
    std::chrono::system_clock::time_point time;
    std::chrono::nanoseconds duration{0};
};

enum class access_log_format {
    combined, ///< nginx `combined` byte for byte, then the duration in seconds ("0.000")
    json      ///< one JSON object per line
};

/// Appends one formatted line (with its '\n') to \p out.
void format_access_line(std::string& out, const access_record& r, access_log_format f);

/// Where formatted lines go. Workers hand over whole batches of lines. Thread-safe.
class access_log_sink {
public:
    virtual ~access_log_sink() = default;
    /// Takes a batch of lines. Never blocks the caller (an event loop): a sink that cannot keep
    /// up past its bound drops the batch and counts its lines.
    virtual void submit(std::string&& lines) = 0;
    /// Waits until everything submitted so far is written, or \p deadline passes. True when
    /// everything was written.
    virtual bool flush(std::chrono::steady_clock::time_point deadline) = 0;
};

} // namespace hs
