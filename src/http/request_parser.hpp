#pragma once
/// \file The sans-I/O request-head parser: bytes in, complete / need-more / error out.
#include <cstddef>
#include <string_view>
#include <vector>

#include "hs/limits.hpp"
#include "hs/message.hpp"
#include "http/parse_error.hpp"

namespace hs::http {

/// The request line and header fields of one request, as views into the parsed bytes.
struct request_head {
    std::string_view method;
    std::string_view target;
    std::string_view path;  ///< from the target: origin path, or the path of an absolute-form
    std::string_view query; ///< after '?', without it
    int version_minor = 1;
    std::vector<header> fields;

    /// Re-points every view that lay in [old_begin, old_end) at the same offset from new_begin,
    /// after the buffer they point into was moved.
    void rebase(const char* old_begin, const char* old_end, const char* new_begin) noexcept;
};

/// Outcome of one parse() call. `consumed` is set when complete (bytes of the head, including
/// leading empty lines and the final CRLF).
struct parse_result {
    enum class kind { complete, need_more, error } what;
    std::size_t consumed = 0;
    parse_error error = parse_error::none;

    static parse_result more() noexcept { return {kind::need_more, 0, parse_error::none}; }
    static parse_result fail(parse_error e) noexcept { return {kind::error, 0, e}; }
};

/// Incremental parser for one request head (RFC 9112 §2-§5).
///
/// Call parse() with all bytes received so far for the current request (the same prefix each
/// time, longer). Bytes already scanned are never examined again while the head is incomplete,
/// so a client that trickles bytes costs O(n) in total. Once the end of the head is found, the
/// head is validated in one pass. Strict: bare LF, bare CR, obs-fold, whitespace before a colon
/// and control characters are errors. reset() before the next request.
class request_parser {
public:
    explicit request_parser(const limits& l) noexcept : limits_(&l) {}
    explicit request_parser(const limits&&) = delete; ///< the limits must outlive the parser

    parse_result parse(std::string_view in, request_head& out);
    void reset() noexcept;

    /// Bytes examined so far for the end of the head (for tests of the no-rescan rule).
    std::size_t scanned() const noexcept { return scanned_; }

private:
    parse_result too_large(std::size_t seen) const noexcept;
    parse_result check_request_start(std::string_view in) noexcept;
    parse_result parse_head(std::string_view head, request_head& out) const;

    const limits* limits_;
    std::size_t scanned_ = 0;        ///< bytes known to hold no end of head
    std::size_t start_ = 0;          ///< first byte of the request line (after leading CRLFs)
    std::size_t line_start_ = 0;     ///< first byte of the line being scanned
    std::size_t lines_ = 0;          ///< complete non-empty lines so far
    std::size_t method_checked_ = 0; ///< bytes of the method token validated so far
    bool method_done_ = false;       ///< the space after the method was seen
};

/// Validates one header or trailer field line (without CRLF) and splits it.
parse_error parse_field_line(std::string_view line, header& out) noexcept;

} // namespace hs::http
