#include "journal/record.hpp"

#include <algorithm>
#include <stdexcept>

#include "journal/crc32c.hpp"

namespace hs::journal {
namespace {

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) noexcept {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) {
        v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    }
    return v;
}

bool all_zero(std::string_view bytes) noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

/// The header's checksum: over its 32 bytes with the checksum field itself left out.
std::uint32_t header_crc(std::string_view h) noexcept {
    return crc32c(h.substr(16, 16), crc32c(h.substr(0, 12)));
}

} // namespace

void encode_segment_header(std::string& out, const segment_header& h) {
    const std::size_t at = out.size();
    out += segment_magic;
    put_le(out, format_version, 4);
    put_le(out, 0, 4); // checksum, filled in below
    put_le(out, h.epoch, 8);
    put_le(out, h.first_seq, 8);
    const std::uint32_t crc = mask_crc(header_crc(std::string_view(out).substr(at, 32)));
    for (int i = 0; i < 4; ++i) {
        out[at + 12 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
    }
}

header_status decode_segment_header(std::string_view bytes, segment_header& out) noexcept {
    if (bytes.size() < segment_header_size) {
        return header_status::too_short;
    }
    const std::string_view h = bytes.substr(0, segment_header_size);
    if (h.substr(0, 8) != segment_magic) {
        return header_status::not_a_segment;
    }
    if (get_le(h, 8, 4) != format_version) {
        return header_status::unknown_version;
    }
    if (unmask_crc(static_cast<std::uint32_t>(get_le(h, 12, 4))) != header_crc(h)) {
        return header_status::corrupt;
    }
    out.epoch = get_le(h, 16, 8);
    out.first_seq = get_le(h, 24, 8);
    return header_status::ok;
}

void encode_record(std::string& out, std::uint64_t epoch, std::uint64_t seq, std::uint8_t type,
                   std::string_view payload, std::uint64_t batch_first) {
    if (payload.size() > max_payload) {
        throw std::length_error("journal record payload larger than 16 MiB");
    }
    if (batch_first == 0) {
        batch_first = seq;
    }
    if (batch_first > seq || seq - batch_first > 0xffffffffU) {
        throw std::invalid_argument("journal record: batch_first after seq, or 2^32 before");
    }
    const std::size_t at = out.size();
    out.reserve(at + record_header_size + payload.size());
    put_le(out, payload.size(), 4);
    put_le(out, 0, 4); // checksum, filled in below
    put_le(out, epoch, 8);
    put_le(out, seq, 8);
    put_le(out, seq - batch_first, 4);
    out.push_back(static_cast<char>(type));
    out += payload;
    const std::uint32_t crc = mask_crc(crc32c(std::string_view(out).substr(at + 8)));
    for (int i = 0; i < 4; ++i) {
        out[at + 4 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
    }
}

decoded_record decode_record(std::string_view bytes, std::uint64_t epoch,
                             std::uint64_t expected_seq) noexcept {
    decoded_record d;
    using st = decoded_record::status;
    if (bytes.empty()) {
        d.what = st::end;
        return d;
    }
    if (bytes.size() < record_header_size) {
        d.what = all_zero(bytes) ? st::end : st::torn;
        return d;
    }
    if (all_zero(bytes.substr(0, record_header_size))) {
        d.what = st::end; // preallocated space never written
        return d;
    }
    const std::uint64_t length = get_le(bytes, 0, 4);
    if (length > max_payload) {
        d.what = st::corrupt;
        return d;
    }
    const std::size_t size = record_header_size + static_cast<std::size_t>(length);
    if (bytes.size() < size) {
        d.what = st::torn;
        return d;
    }
    const auto stored = static_cast<std::uint32_t>(get_le(bytes, 4, 4));
    if (unmask_crc(stored) != crc32c(bytes.substr(8, size - 8))) {
        d.what = st::corrupt;
        return d;
    }
    if (get_le(bytes, 8, 8) != epoch) {
        d.what = st::stale;
        return d;
    }
    d.seq = get_le(bytes, 16, 8);
    const std::uint64_t offset = get_le(bytes, 24, 4);
    if (offset > d.seq) {
        d.what = st::corrupt; // a batch cannot begin before sequence number 0
        return d;
    }
    d.batch_first = d.seq - offset;
    d.type = static_cast<std::uint8_t>(bytes[28]);
    d.payload = bytes.substr(record_header_size, static_cast<std::size_t>(length));
    d.size = size;
    d.what = d.seq == expected_seq ? st::ok : st::out_of_order;
    return d;
}

} // namespace hs::journal
