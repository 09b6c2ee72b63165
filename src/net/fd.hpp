#pragma once
/// \file A move-only owner of a file descriptor.
#include <unistd.h>

#include <utility>

namespace hs::net {

class fd {
public:
    fd() noexcept = default;
    explicit fd(int v) noexcept : fd_(v) {}
    fd(fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    fd& operator=(fd&& o) noexcept {
        if (this != &o) {
            reset(std::exchange(o.fd_, -1));
        }
        return *this;
    }
    fd(const fd&) = delete;
    fd& operator=(const fd&) = delete;
    ~fd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int v = -1) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = v;
    }

private:
    int fd_ = -1;
};

} // namespace hs::net
