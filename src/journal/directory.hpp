#pragma once
/// \file The few file-system operations the journal uses, on the files of one directory. The
/// journal and its recovery go through this interface only, so a simulated directory
/// (tests/support/sim_directory.hpp) can keep the durable image apart from what is not yet
/// synced and crash, tear writes or fail with ENOSPC or EIO at any operation: that is how crash
/// safety is proven. Every failure throws std::system_error carrying the errno.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hs::journal {

/// One open file, written at explicit offsets.
class file {
public:
    virtual ~file() = default;
    virtual void write_at(std::uint64_t offset, std::string_view bytes) = 0;
    /// fdatasync: the data written so far, and the size, survive power loss.
    virtual void sync_data() = 0;
    /// Reserves \p size bytes (posix_fallocate): disk full shows here, not mid-record.
    virtual void allocate(std::uint64_t size) = 0;
    virtual void truncate(std::uint64_t size) = 0;
};

class directory {
public:
    virtual ~directory() = default;
    /// Takes the directory's lock for this object's life; false when another process holds it.
    virtual bool try_lock() = 0;
    /// The names of the regular files in the directory.
    virtual std::vector<std::string> names() = 0;
    /// Creates a new, empty file (it must not exist).
    virtual std::unique_ptr<file> create(std::string_view name) = 0;
    /// Opens an existing file for writing.
    virtual std::unique_ptr<file> open(std::string_view name) = 0;
    /// The whole content of a file.
    virtual std::string read(std::string_view name) = 0;
    /// Replaces \p to by \p from atomically.
    virtual void rename(std::string_view from, std::string_view to) = 0;
    virtual void remove(std::string_view name) = 0;
    /// fsync of the directory itself: creates, renames and removes so far survive power loss.
    virtual void sync() = 0;
    /// Where it is, for messages.
    virtual std::string describe(std::string_view name) const = 0;
};

/// The real directory \p path (created if missing).
std::unique_ptr<directory> open_posix_directory(const std::string& path);

} // namespace hs::journal
