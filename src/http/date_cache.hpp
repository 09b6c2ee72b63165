#pragma once
/// \file IMF-fixdate for the Date header (RFC 9110 §5.6.7), formatted once per second.
#include <ctime>
#include <string_view>

namespace hs::http {

/// Not thread-safe: each worker owns one.
class date_cache {
public:
    /// The date for \p now, reformatted only when the second changes.
    std::string_view get(std::time_t now) noexcept {
        if (now != cached_) {
            format(now);
        }
        return {buf_, length};
    }

    /// Formats \p t as IMF-fixdate into \p out (29 bytes, no terminator).
    static void format(std::time_t t, char* out) noexcept;

private:
    static constexpr std::size_t length = 29; // "Sun, 06 Nov 1994 08:49:37 GMT"
    void format(std::time_t now) noexcept {
        format(now, buf_);
        cached_ = now;
    }
    std::time_t cached_ = -1;
    char buf_[length + 1] = {};
};

} // namespace hs::http
