#include "http/date_cache.hpp"

namespace hs::http {
namespace {
void two(char* p, int v) noexcept {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}
} // namespace

void date_cache::format(std::time_t t, char* out) noexcept {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    const char* d = days[tm.tm_wday];
    const char* m = months[tm.tm_mon];
    const int year = tm.tm_year + 1900;
    out[0] = d[0], out[1] = d[1], out[2] = d[2], out[3] = ',', out[4] = ' ';
    two(out + 5, tm.tm_mday);
    out[7] = ' ', out[8] = m[0], out[9] = m[1], out[10] = m[2], out[11] = ' ';
    two(out + 12, year / 100);
    two(out + 14, year % 100);
    out[16] = ' ';
    two(out + 17, tm.tm_hour);
    out[19] = ':';
    two(out + 20, tm.tm_min);
    out[22] = ':';
    two(out + 23, tm.tm_sec);
    out[25] = ' ', out[26] = 'G', out[27] = 'M', out[28] = 'T';
}

} // namespace hs::http
