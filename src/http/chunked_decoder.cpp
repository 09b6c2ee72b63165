#include "http/chunked_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "http/chars.hpp"
#include "http/request_parser.hpp"

namespace hs::http {
namespace {
constexpr std::size_t max_extension_bytes = 4096; // per chunk line; extensions are ignored anyway
constexpr unsigned max_size_digits = 16;          // 64 bits of hex
} // namespace

chunked_decoder::status chunked_decoder::decode(std::span<char> region) noexcept {
    while (in_ < region.size()) {
        if (state_ == state::data) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, region.size() - in_));
            if (out_ != in_) {
                std::memmove(region.data() + out_, region.data() + in_, n);
            }
            in_ += n;
            out_ += n;
            chunk_left_ -= n;
            if (chunk_left_ == 0) {
                state_ = state::data_cr;
            }
            continue;
        }
        const auto c = static_cast<unsigned char>(region[in_]);
        ++in_;
        if (const status s = on_byte(c, region); s != status::need_more) {
            return s;
        }
    }
    return state_ == state::done ? status::done : status::need_more;
}

std::size_t chunked_decoder::compact(std::span<char> region) noexcept {
    const bool in_trailer_line = state_ == state::trailer_line || state_ == state::trailer_lf;
    const std::size_t keep_from = in_trailer_line ? line_start_ : in_;
    const std::size_t gap = keep_from - out_;
    if (gap == 0) {
        return 0;
    }
    std::memmove(region.data() + out_, region.data() + keep_from, region.size() - keep_from);
    in_ -= gap;
    if (in_trailer_line) {
        line_start_ -= gap;
    }
    return gap;
}

chunked_decoder::status chunked_decoder::on_byte(unsigned char c, std::span<char> region) noexcept {
    switch (state_) {
    case state::size: {
        const int v = chars::hex_value(c);
        if (v >= 0) {
            if (++digits_ > max_size_digits) {
                return fail(parse_error::chunk_size_overflow);
            }
            chunk_left_ = (chunk_left_ << 4) | static_cast<std::uint64_t>(v);
            return status::need_more;
        }
        if (digits_ == 0) {
            return fail(parse_error::bad_chunk_size);
        }
        if (c == '\r') {
            state_ = state::size_lf;
        } else if (c == ';' || c == ' ' || c == '\t') {
            ext_semicolon_ = c == ';';
            ext_bytes_ = 1;
            state_ = state::extension;
        } else {
            return fail(parse_error::bad_chunk_size);
        }
        return status::need_more;
    }
    case state::extension:
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): whitespace may come only
        // before the first ';', and nothing may be a control character.
        if (c == '\r') {
            if (!ext_semicolon_) {
                return fail(parse_error::bad_chunk_extension);
            }
            state_ = state::size_lf;
        } else if (++ext_bytes_ > max_extension_bytes || !chars::field_char[c]) {
            return fail(parse_error::bad_chunk_extension);
        } else if (!ext_semicolon_ && c != ';' && c != ' ' && c != '\t') {
            return fail(parse_error::bad_chunk_extension);
        } else {
            ext_semicolon_ = ext_semicolon_ || c == ';';
        }
        return status::need_more;
    case state::size_lf:
        if (c != '\n') {
            return fail(parse_error::bad_chunk_size);
        }
        if (chunk_left_ == 0) {
            state_ = state::trailer_start;
            return status::need_more;
        }
        if (chunk_left_ > limits_->max_body_bytes - out_) {
            return fail(parse_error::body_too_large);
        }
        digits_ = 0;
        state_ = state::data;
        return status::need_more;
    case state::data_cr:
        if (c != '\r') {
            return fail(parse_error::bad_chunk_data_end);
        }
        state_ = state::data_lf;
        return status::need_more;
    case state::data_lf:
        if (c != '\n') {
            return fail(parse_error::bad_chunk_data_end);
        }
        state_ = state::size;
        return status::need_more;
    case state::trailer_start:
        if (c == '\r') {
            state_ = state::final_lf;
            return status::need_more;
        }
        line_start_ = in_ - 1;
        state_ = state::trailer_line;
        [[fallthrough]];
    case state::trailer_line:
        if (++trailer_bytes_ > limits_->max_header_bytes || c == '\n') {
            return fail(parse_error::bad_trailer);
        }
        if (c == '\r') {
            state_ = state::trailer_lf;
        }
        return status::need_more;
    case state::trailer_lf: {
        header h;
        const std::string_view line(region.data() + line_start_, in_ - 2 - line_start_);
        if (c != '\n' || parse_field_line(line, h) != parse_error::none ||
            ++trailer_fields_ > limits_->max_header_fields) {
            return fail(parse_error::bad_trailer);
        }
        state_ = state::trailer_start;
        return status::need_more;
    }
    case state::final_lf:
        if (c != '\n') {
            return fail(parse_error::bad_trailer);
        }
        state_ = state::done;
        return status::done;
    case state::data:
    case state::done:
        break;
    }
    return status::done;
}

} // namespace hs::http
