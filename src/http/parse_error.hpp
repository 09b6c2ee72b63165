#pragma once
/// \file Every way a request can fail before it reaches a handler, and the one table that maps
/// each to a status, a problem+json detail and whether the connection must close.
#include <cstdint>
#include <string_view>

namespace hs::http {

enum class parse_error : std::uint8_t {
    none = 0,
    // request line (RFC 9112 §3)
    bad_request_line,
    bad_method,
    bad_target,
    bad_version,
    unsupported_version,
    target_too_long,
    // header section (RFC 9112 §5)
    header_too_large,
    too_many_fields,
    bad_field_name,
    space_before_colon,
    obs_fold,
    bad_field_value,
    nul_byte,
    bare_cr,
    bare_lf,
    // semantics of framing fields (RFC 9112 §3.2, §6, RFC 9110 §10.1.1)
    missing_host,
    repeated_host,
    bad_host,
    bad_content_length,
    conflicting_content_length,
    content_length_with_transfer_encoding,
    transfer_encoding_not_chunked,
    chunked_applied_twice,
    unknown_transfer_coding,
    transfer_encoding_on_http10,
    unsupported_expectation,
    body_too_large,
    // chunked coding (RFC 9112 §7.1)
    bad_chunk_size,
    chunk_size_overflow,
    bad_chunk_extension,
    bad_chunk_data_end,
    bad_trailer,
    // timing
    header_timeout,
    body_timeout,
};

/// What the engine does with a parse_error.
struct error_info {
    int status;              ///< HTTP status of the error response
    std::string_view detail; ///< problem+json `detail`, also the log text
    bool must_close;         ///< close after the response (framing can no longer be trusted)
};

/// The single mapping table. Every parse_error except none has an entry.
const error_info& describe(parse_error e) noexcept;

} // namespace hs::http
