#include "http/parse_error.hpp"

#include <array>
#include <cstddef>

namespace hs::http {
namespace {

struct entry {
    parse_error code;
    error_info info;
};

// One row per error; the static_assert below keeps it complete and in enum order. Every row
// closes: once a request head or body is malformed, nothing after it can be framed safely.
constexpr entry table[] = {
    {parse_error::none, {200, "", false}},
    {parse_error::bad_request_line,
     {400, "malformed request line: expected 'METHOD SP target SP HTTP/1.x CRLF'", true}},
    {parse_error::bad_method, {400, "the method is not a valid token (RFC 9110 §9.1)", true}},
    {parse_error::bad_target,
     {400,
      "the request-target has a character that is not allowed or is not in origin-form, "
      "absolute-form with a host, or '*' (RFC 9112 §3.2)",
      true}},
    {parse_error::bad_version,
     {400, "malformed HTTP version: expected 'HTTP/1.0' or 'HTTP/1.1'", true}},
    {parse_error::unsupported_version, {505, "only HTTP/1.0 and HTTP/1.1 are supported", true}},
    {parse_error::target_too_long,
     {414, "the request-target is longer than this server accepts", true}},
    {parse_error::header_too_large,
     {431, "the request header section is larger than this server accepts", true}},
    {parse_error::too_many_fields,
     {431, "the request has more header fields than this server accepts", true}},
    {parse_error::bad_field_name, {400, "a header field name is empty or not a valid token", true}},
    {parse_error::space_before_colon,
     {400, "whitespace between a header field name and its colon is not allowed (RFC 9112 §5.1)",
      true}},
    {parse_error::obs_fold,
     {400, "obsolete line folding in a header field is not allowed (RFC 9112 §5.2)", true}},
    {parse_error::bad_field_value, {400, "a header field value has a control character", true}},
    {parse_error::nul_byte, {400, "the request head contains a NUL byte", true}},
    {parse_error::bare_cr, {400, "a CR not followed by LF in the request head", true}},
    {parse_error::bare_lf, {400, "a line ends with LF alone; lines must end with CRLF", true}},
    {parse_error::missing_host, {400, "an HTTP/1.1 request must have a Host header field", true}},
    {parse_error::repeated_host, {400, "the request has more than one Host header field", true}},
    {parse_error::bad_host, {400, "the Host header field is not a valid host[:port]", true}},
    {parse_error::bad_content_length,
     {400, "Content-Length is not a decimal number of bytes", true}},
    {parse_error::conflicting_content_length,
     {400, "Content-Length is given more than once with different values", true}},
    {parse_error::content_length_with_transfer_encoding,
     {400, "a request must not have both Content-Length and Transfer-Encoding", true}},
    {parse_error::transfer_encoding_not_chunked,
     {400, "the last transfer coding must be 'chunked' (RFC 9112 §6.3)", true}},
    {parse_error::chunked_applied_twice,
     {400, "the chunked transfer coding is applied more than once", true}},
    {parse_error::unknown_transfer_coding,
     {501, "only the chunked transfer coding is supported", true}},
    {parse_error::transfer_encoding_on_http10,
     {400, "Transfer-Encoding is not allowed in an HTTP/1.0 request", true}},
    {parse_error::unsupported_expectation, {417, "only 'Expect: 100-continue' is supported", true}},
    {parse_error::body_too_large,
     {413, "the request body is larger than this server accepts", true}},
    {parse_error::bad_chunk_size,
     {400, "a chunk size is not a hexadecimal number followed by CRLF", true}},
    {parse_error::chunk_size_overflow, {400, "a chunk size is too large", true}},
    {parse_error::bad_chunk_extension, {400, "a chunk extension is malformed", true}},
    {parse_error::bad_chunk_data_end, {400, "chunk data is not followed by CRLF", true}},
    {parse_error::bad_trailer,
     {400, "a trailer field is malformed or the trailer section is too large", true}},
    {parse_error::header_timeout, {408, "the request head was not received in time", true}},
    {parse_error::body_timeout, {408, "the request body stalled", true}},
};

constexpr bool table_in_order() {
    for (std::size_t i = 0; i < std::size(table); ++i) {
        if (static_cast<std::size_t>(table[i].code) != i) {
            return false;
        }
    }
    return std::size(table) == static_cast<std::size_t>(parse_error::body_timeout) + 1;
}
static_assert(table_in_order(), "parse_error table must list every code in enum order");

} // namespace

const error_info& describe(parse_error e) noexcept {
    return table[static_cast<std::size_t>(e)].info;
}

} // namespace hs::http
