// The journal's on-disk format: CRC-32C against published vectors, segment headers, and records
// classified as valid, end, torn, corrupt, stale or out of order, at every cut and every bit flip.
#include "journal/record.hpp"

#include <gtest/gtest.h>

#include <string>

#include "journal/crc32c.hpp"

namespace hs::journal {
namespace {

using st = decoded_record::status;

TEST(crc32c, matches_the_published_check_values) {
    EXPECT_EQ(crc32c(""), 0u);
    EXPECT_EQ(crc32c("123456789"), 0xe3069283u);             // the CRC catalogue's check value
    EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aau);   // RFC 3720 B.4
    EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43u); // RFC 3720 B.4
    std::string ascending;
    for (int i = 0; i < 32; ++i) {
        ascending.push_back(static_cast<char>(i));
    }
    EXPECT_EQ(crc32c(ascending), 0x46dd794eu); // RFC 3720 B.4
}

TEST(crc32c, extends_across_pieces_and_masks_reversibly) {
    const std::string text = "the quick brown fox jumps over the lazy dog, twice over";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        EXPECT_EQ(crc32c(std::string_view(text).substr(cut),
                         crc32c(std::string_view(text).substr(0, cut))),
                  crc32c(text));
    }
    for (const std::uint32_t v : {0u, 1u, 0xe3069283u, 0xffffffffu}) {
        EXPECT_EQ(unmask_crc(mask_crc(v)), v);
        EXPECT_NE(mask_crc(v), v);
    }
}

TEST(segment_header, round_trips_and_refuses_what_is_not_one) {
    std::string h;
    encode_segment_header(h, {0x1122334455667788ULL, 42});
    ASSERT_EQ(h.size(), segment_header_size);
    EXPECT_TRUE(h.starts_with(segment_magic));
    segment_header got;
    ASSERT_EQ(decode_segment_header(h, got), header_status::ok);
    EXPECT_EQ(got.epoch, 0x1122334455667788ULL);
    EXPECT_EQ(got.first_seq, 42u);
    EXPECT_EQ(decode_segment_header(h.substr(0, 31), got), header_status::too_short);
    EXPECT_EQ(decode_segment_header(std::string(32, '\0'), got), header_status::not_a_segment);
    std::string later = h;
    later[8] = 2;
    EXPECT_EQ(decode_segment_header(later, got), header_status::unknown_version);
    for (std::size_t byte = 12; byte < segment_header_size; ++byte) { // checksum, epoch, seq
        std::string flipped = h;
        flipped[byte] = static_cast<char>(flipped[byte] ^ 0x10);
        EXPECT_EQ(decode_segment_header(flipped, got), header_status::corrupt) << byte;
    }
}

TEST(record, round_trips_and_walks_a_sequence) {
    std::string seg;
    encode_record(seg, 7, 100, 1, R"({"id":1})");
    encode_record(seg, 7, 101, 2, "");
    encode_record(seg, 7, 102, 1, std::string(70000, 'x'));
    std::string_view rest(seg);
    std::uint64_t seq = 100;
    const std::uint8_t types[] = {1, 2, 1};
    const std::size_t lengths[] = {8, 0, 70000};
    for (int i = 0; i < 3; ++i) {
        const decoded_record d = decode_record(rest, 7, seq);
        ASSERT_EQ(d.what, st::ok) << i;
        EXPECT_EQ(d.seq, seq);
        EXPECT_EQ(d.type, types[i]);
        EXPECT_EQ(d.payload.size(), lengths[i]);
        EXPECT_EQ(d.size, record_header_size + lengths[i]);
        rest.remove_prefix(d.size);
        ++seq;
    }
    EXPECT_EQ(decode_record(rest, 7, seq).what, st::end);
    EXPECT_EQ(decode_record(std::string(record_header_size + 10, '\0'), 7, seq).what, st::end);
    EXPECT_EQ(decode_record(std::string(5, '\0'), 7, seq).what, st::end);
}

TEST(record, every_cut_short_of_the_whole_record_is_torn) {
    std::string r;
    encode_record(r, 9, 1, 1, "payload bytes");
    for (std::size_t cut = 1; cut < r.size(); ++cut) {
        EXPECT_EQ(decode_record(std::string_view(r).substr(0, cut), 9, 1).what, st::torn) << cut;
    }
}

TEST(record, every_single_bit_flip_is_caught) {
    std::string r;
    encode_record(r, 9, 5, 3, "a record worth keeping");
    for (std::size_t bit = 0; bit < r.size() * 8; ++bit) {
        std::string flipped = r;
        flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
        const decoded_record d = decode_record(flipped, 9, 5);
        EXPECT_TRUE(d.what == st::corrupt || d.what == st::torn) << "bit " << bit;
    }
}

TEST(record, another_epoch_is_stale_and_a_gap_is_out_of_order) {
    std::string r;
    encode_record(r, 1111, 8, 1, "old life");
    EXPECT_EQ(decode_record(r, 2222, 8).what, st::stale);
    EXPECT_EQ(decode_record(r, 1111, 7).what, st::out_of_order);
    EXPECT_EQ(decode_record(r, 1111, 9).what, st::out_of_order);
    EXPECT_EQ(decode_record(r, 1111, 8).what, st::ok);
}

TEST(record, lengths_past_the_limit_are_refused_both_ways) {
    std::string big;
    EXPECT_THROW(encode_record(big, 1, 1, 1, std::string(max_payload + 1, 'x')), std::length_error);
    std::string r;
    encode_record(r, 1, 1, 1, "x");
    r[3] = '\x7f'; // length field: far past 16 MiB
    EXPECT_EQ(decode_record(r, 1, 1).what, st::corrupt);
}

} // namespace
} // namespace hs::journal
