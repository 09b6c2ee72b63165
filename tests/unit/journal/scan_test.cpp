// Recovery's reading of one segment: the valid records, where appending continues, and the rule
// that tells an interrupted last write (cut off) from damage inside the log (refused).
#include "journal/scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hs::journal {
namespace {

using sst = segment_scan::status;
using rst = decoded_record::status;

constexpr std::uint64_t epoch = 0xfeedfacecafebeefULL;

/// A segment starting at sequence 10 with the given payloads; \p offsets gets where each record
/// starts.
std::string segment(const std::vector<std::string>& payloads,
                    std::vector<std::size_t>* offsets = nullptr) {
    std::string s;
    encode_segment_header(s, {epoch, 10});
    std::uint64_t seq = 10;
    for (const std::string& p : payloads) {
        if (offsets != nullptr) {
            offsets->push_back(s.size());
        }
        encode_record(s, epoch, seq++, 1, p);
    }
    return s;
}

const std::vector<std::string> three = {R"({"id":1})", "", R"({"id":2,"x":[1,2,3]})"};

TEST(scan, a_clean_segment_gives_every_record_and_the_next_sequence_number) {
    const std::string s = segment(three);
    const segment_scan r = scan_segment(s);
    ASSERT_EQ(r.what, sst::ok);
    ASSERT_EQ(r.records.size(), 3u);
    EXPECT_EQ(r.records[0].seq, 10u);
    EXPECT_EQ(r.records[0].offset, segment_header_size);
    EXPECT_EQ(r.records[2].payload, three[2]);
    EXPECT_EQ(r.valid_end, s.size());
    EXPECT_EQ(r.next_seq, 13u);
    EXPECT_EQ(r.tail, rst::end);
}

TEST(scan, a_header_alone_and_preallocated_zeros_are_a_clean_end) {
    const segment_scan empty = scan_segment(segment({}));
    EXPECT_EQ(empty.what, sst::ok);
    EXPECT_TRUE(empty.records.empty());
    EXPECT_EQ(empty.next_seq, 10u);
    const std::string s = segment(three);
    const segment_scan zeros = scan_segment(s + std::string(1 << 16, '\0'));
    EXPECT_EQ(zeros.what, sst::ok);
    EXPECT_EQ(zeros.records.size(), 3u);
    EXPECT_EQ(zeros.valid_end, s.size());
    EXPECT_EQ(zeros.tail, rst::end);
}

TEST(scan, a_torn_last_record_is_cut_at_every_length) {
    std::vector<std::size_t> at;
    const std::string s = segment(three, &at);
    for (std::size_t cut = at[2] + 1; cut < s.size(); ++cut) {
        const segment_scan r = scan_segment(s.substr(0, cut) + std::string(4096, '\0'));
        ASSERT_EQ(r.what, sst::ok) << cut;
        EXPECT_EQ(r.records.size(), 2u) << cut;
        EXPECT_EQ(r.valid_end, at[2]) << cut;
        EXPECT_NE(r.tail, rst::end) << cut;
    }
}

TEST(scan, a_bad_last_record_with_nothing_valid_after_it_is_cut) {
    std::vector<std::size_t> at;
    std::string s = segment(three, &at);
    s[at[2] + record_header_size + 3] ^= 0x01; // its payload
    const segment_scan r = scan_segment(s);
    EXPECT_EQ(r.what, sst::ok);
    EXPECT_EQ(r.tail, rst::corrupt);
    EXPECT_EQ(r.valid_end, at[2]);
}

TEST(scan, a_bad_or_zeroed_record_before_valid_ones_is_damage_with_its_offset) {
    std::vector<std::size_t> at;
    const std::string s = segment(three, &at);
    std::string flipped = s;
    flipped[at[1] + 6] ^= 0x40; // the second record's checksum
    const segment_scan bad = scan_segment(flipped);
    EXPECT_EQ(bad.what, sst::damaged);
    EXPECT_EQ(bad.bad_offset, at[1]);
    EXPECT_EQ(bad.records.size(), 1u);
    std::string zeroed = s;
    std::fill(zeroed.begin() + static_cast<std::ptrdiff_t>(at[1]),
              zeroed.begin() + static_cast<std::ptrdiff_t>(at[2]), '\0'); // a lost write
    const segment_scan lost = scan_segment(zeroed);
    EXPECT_EQ(lost.what, sst::damaged);
    EXPECT_EQ(lost.bad_offset, at[1]);
}

TEST(scan, a_gap_in_the_sequence_is_damage) {
    std::string s;
    encode_segment_header(s, {epoch, 10});
    encode_record(s, epoch, 10, 1, "a");
    const std::size_t second = s.size();
    encode_record(s, epoch, 12, 1, "c"); // 11 is missing
    const segment_scan r = scan_segment(s);
    EXPECT_EQ(r.what, sst::damaged);
    EXPECT_EQ(r.bad_offset, second);
    EXPECT_EQ(r.tail, rst::out_of_order);
}

TEST(scan, an_earlier_lifes_records_after_ours_are_a_clean_cut) {
    const std::string ours = segment(three);
    std::string s = ours;
    encode_record(s, epoch ^ 0xff, 13, 1, "left over from before the file was reused");
    encode_record(s, epoch ^ 0xff, 14, 1, "and more");
    const segment_scan r = scan_segment(s);
    EXPECT_EQ(r.what, sst::ok);
    EXPECT_EQ(r.tail, rst::stale);
    EXPECT_EQ(r.valid_end, ours.size());
    EXPECT_EQ(r.records.size(), 3u);
}

// One batch (one write, one fdatasync) may reach the disk in any order before its sync: a hole
// with valid records of the same batch after it is a torn tail, cut at the hole. A record of a
// later batch after the hole proves the hole's batch had been synced: damage.
TEST(scan, a_hole_in_the_last_batch_is_a_torn_tail_but_not_in_an_earlier_one) {
    std::string s;
    encode_segment_header(s, {epoch, 1});
    encode_record(s, epoch, 1, 1, "first batch", 1);
    const std::size_t second = s.size();
    encode_record(s, epoch, 2, 1, "second batch, first record", 2);
    const std::size_t third = s.size();
    encode_record(s, epoch, 3, 1, "second batch, second record", 2);
    std::string holed = s;
    std::fill(holed.begin() + static_cast<std::ptrdiff_t>(second),
              holed.begin() + static_cast<std::ptrdiff_t>(third), '\0');
    const segment_scan torn = scan_segment(holed);
    EXPECT_EQ(torn.what, sst::ok);
    EXPECT_EQ(torn.valid_end, second);
    EXPECT_EQ(torn.records.size(), 1u);
    EXPECT_EQ(torn.next_seq, 2u);

    encode_record(s, epoch, 4, 1, "third batch", 4);
    holed = s;
    std::fill(holed.begin() + static_cast<std::ptrdiff_t>(second),
              holed.begin() + static_cast<std::ptrdiff_t>(third), '\0');
    const segment_scan damaged = scan_segment(holed);
    EXPECT_EQ(damaged.what, sst::damaged);
    EXPECT_EQ(damaged.bad_offset, second);
}

TEST(scan, a_file_that_is_not_a_segment_is_refused) {
    const segment_scan r = scan_segment("not a journal segment at all, just text.........");
    EXPECT_EQ(r.what, sst::bad_header);
    EXPECT_EQ(r.header, header_status::not_a_segment);
    EXPECT_EQ(scan_segment("").header, header_status::too_short);
}

} // namespace
} // namespace hs::journal
