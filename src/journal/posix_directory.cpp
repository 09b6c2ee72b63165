// The journal's directory on a real POSIX file system.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "journal/directory.hpp"

namespace hs::journal {
namespace {

[[noreturn]] void fail(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

class fd_holder {
public:
    explicit fd_holder(int fd) noexcept : fd_(fd) {}
    fd_holder(const fd_holder&) = delete;
    fd_holder& operator=(const fd_holder&) = delete;
    ~fd_holder() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

class posix_file final : public file {
public:
    posix_file(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

    void write_at(std::uint64_t offset, std::string_view bytes) override {
        while (!bytes.empty()) {
            const ssize_t n =
                ::pwrite(fd_.get(), bytes.data(), bytes.size(), static_cast<off_t>(offset));
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fail(errno, "write to " + path_);
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
            offset += static_cast<std::uint64_t>(n);
        }
    }
    void sync_data() override {
        if (::fdatasync(fd_.get()) != 0) {
            fail(errno, "fdatasync of " + path_);
        }
    }
    void allocate(std::uint64_t size) override {
        // posix_fallocate returns the error instead of setting errno.
        if (const int rc = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(size)); rc != 0) {
            fail(rc, "preallocating " + path_);
        }
    }
    void truncate(std::uint64_t size) override {
        if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
            fail(errno, "truncating " + path_);
        }
    }

private:
    fd_holder fd_;
    std::string path_;
};

class posix_directory final : public directory {
public:
    explicit posix_directory(std::string path) : path_(std::move(path)) {
        if (::mkdir(path_.c_str(), 0755) == 0) {
            // The new directory's own entry must survive power loss too, or everything
            // acknowledged inside it goes with it.
            const std::size_t slash = path_.find_last_of('/');
            const std::string parent = slash == std::string::npos ? "."
                                       : slash == 0               ? "/"
                                                                  : path_.substr(0, slash);
            const fd_holder p(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (p.get() < 0 || ::fsync(p.get()) != 0) {
                fail(errno, "fsync of " + parent + " after creating " + path_);
            }
        } else if (errno != EEXIST) {
            fail(errno, "creating " + path_);
        }
        dir_fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd_ < 0) {
            fail(errno, "opening " + path_);
        }
    }
    ~posix_directory() override {
        if (lock_fd_ >= 0) {
            ::close(lock_fd_); // releases the lock
        }
        ::close(dir_fd_);
    }
    posix_directory(const posix_directory&) = delete;
    posix_directory& operator=(const posix_directory&) = delete;

    bool try_lock() override {
        // flock() on a file of its own: held for the process' life, released by the kernel on
        // any exit (kill -9 included), never by another descriptor of this process.
        const int fd = ::openat(dir_fd_, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fail(errno, "opening " + describe("LOCK"));
        }
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(fd);
            if (err == EWOULDBLOCK) {
                return false;
            }
            fail(err, "locking " + describe("LOCK"));
        }
        lock_fd_ = fd;
        return true;
    }

    std::vector<std::string> names() override {
        const int fd = ::dup(dir_fd_);
        if (fd < 0) {
            fail(errno, "listing " + path_);
        }
        DIR* d = ::fdopendir(fd);
        if (d == nullptr) {
            const int err = errno;
            ::close(fd);
            fail(err, "listing " + path_);
        }
        ::rewinddir(d);
        std::vector<std::string> out;
        while (const dirent* e = ::readdir(d)) {
            const std::string_view n(e->d_name);
            if (n != "." && n != ".." && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)) {
                out.emplace_back(n);
            }
        }
        ::closedir(d);
        return out;
    }

    std::unique_ptr<file> create(std::string_view name) override {
        const std::string n(name);
        const int fd = ::openat(dir_fd_, n.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            fail(errno, "creating " + describe(name));
        }
        return std::make_unique<posix_file>(fd, describe(name));
    }

    std::unique_ptr<file> open(std::string_view name) override {
        const std::string n(name);
        const int fd = ::openat(dir_fd_, n.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            fail(errno, "opening " + describe(name));
        }
        return std::make_unique<posix_file>(fd, describe(name));
    }

    std::string read(std::string_view name) override {
        const std::string n(name);
        const fd_holder fd(::openat(dir_fd_, n.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) {
            fail(errno, "opening " + describe(name));
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            fail(errno, "reading " + describe(name));
        }
        std::string out(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t got = 0;
        while (got < out.size()) {
            const ssize_t r =
                ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fail(errno, "reading " + describe(name));
            }
            if (r == 0) {
                break;
            }
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }

    void rename(std::string_view from, std::string_view to) override {
        const std::string f(from), t(to);
        if (::renameat(dir_fd_, f.c_str(), dir_fd_, t.c_str()) != 0) {
            fail(errno, "renaming " + describe(from) + " to " + t);
        }
    }

    void remove(std::string_view name) override {
        const std::string n(name);
        if (::unlinkat(dir_fd_, n.c_str(), 0) != 0 && errno != ENOENT) {
            fail(errno, "removing " + describe(name));
        }
    }

    void sync() override {
        if (::fsync(dir_fd_) != 0) {
            fail(errno, "fsync of " + path_);
        }
    }

    std::string describe(std::string_view name) const override {
        return path_ + "/" + std::string(name);
    }

private:
    std::string path_;
    int dir_fd_ = -1;
    int lock_fd_ = -1;
};

} // namespace

std::unique_ptr<directory> open_posix_directory(const std::string& path) {
    return std::make_unique<posix_directory>(path);
}

} // namespace hs::journal
