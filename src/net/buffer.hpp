#pragma once
/// \file A growable byte buffer with a consumed prefix: the connection's read buffer.
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace hs::net {

/// Bytes live in [begin, end) of one heap block. Reads append at end; parsed requests are
/// consumed from begin. Growing or compacting moves the bytes: callers holding views into the
/// buffer must re-point them (request_head::rebase) or not grow while they hold them.
class buffer {
public:
    buffer() = default;
    explicit buffer(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

    char* begin() noexcept { return data_.get() + begin_; }
    const char* begin() const noexcept { return data_.get() + begin_; }
    char* end() noexcept { return data_.get() + end_; }
    std::size_t size() const noexcept { return end_ - begin_; }
    bool empty() const noexcept { return begin_ == end_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t free_tail() const noexcept { return capacity_ - end_; }
    std::string_view view() const noexcept { return {begin(), size()}; }

    void commit(std::size_t n) noexcept { end_ += n; }
    /// Forgets the last \p n bytes (after they were moved down inside the buffer).
    void shrink_end(std::size_t n) noexcept { end_ -= n; }
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) {
            begin_ = end_ = 0;
        }
    }

    /// Makes room for \p n more bytes at the tail: moves the bytes to the front, or reallocates
    /// (at least doubling). Returns true when the bytes moved.
    bool reserve_tail(std::size_t n) {
        if (free_tail() >= n) {
            return false;
        }
        const std::size_t used = size();
        if (begin_ > 0 && capacity_ - used >= n && used <= capacity_ / 2) {
            std::memmove(data_.get(), begin(), used);
        } else {
            std::size_t cap = capacity_ == 0 ? 4096 : capacity_;
            while (cap - used < n) {
                cap *= 2;
            }
            std::unique_ptr<char[]> bigger(new char[cap]);
            if (used > 0) {
                std::memcpy(bigger.get(), begin(), used);
            }
            data_ = std::move(bigger);
            capacity_ = cap;
        }
        begin_ = 0;
        end_ = used;
        return true;
    }

private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

} // namespace hs::net
