#pragma once
/// \file CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of journal records:
/// better error detection than CRC-32 for the same cost, and what iSCSI, ext4, LevelDB and
/// RocksDB use.
#include <cstdint>
#include <string_view>

namespace hs::journal {

/// Extends \p crc (0 to start) over \p bytes.
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) noexcept;

/// A stored checksum is masked (rotated and offset, as LevelDB does) so that the CRC of bytes
/// that contain CRCs, such as a record holding a record, stays well distributed.
constexpr std::uint32_t mask_crc(std::uint32_t crc) noexcept {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
constexpr std::uint32_t unmask_crc(std::uint32_t masked) noexcept {
    const std::uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

} // namespace hs::journal
