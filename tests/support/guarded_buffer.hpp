#pragma once
// Places bytes so that the last one sits just before a PROT_NONE page: any read past the end of
// the input faults at once (after picohttpparser's test.c).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace hs::test {

class guarded_buffer {
public:
    explicit guarded_buffer(std::string_view bytes) {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t data_pages = (bytes.size() + page - 1) / page + 1;
        size_ = (data_pages + 1) * page;
        void* p =
            ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::runtime_error("mmap failed");
        }
        base_ = static_cast<char*>(p);
        ::mprotect(base_ + data_pages * page, page, PROT_NONE);
        data_ = base_ + data_pages * page - bytes.size();
        std::memcpy(data_, bytes.data(), bytes.size());
        len_ = bytes.size();
    }
    ~guarded_buffer() { ::munmap(base_, size_); }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;

    std::string_view view() const { return {data_, len_}; }

private:
    char* base_ = nullptr;
    char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t len_ = 0;
};

} // namespace hs::test
