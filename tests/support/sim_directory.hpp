#pragma once
// A simulated directory for the journal's crash and fault tests (as SQLite's crash VFS and
// LevelDB's fault-injection env): it keeps the durable image apart from writes not yet synced
// and directory entries not yet synced, and at a crash builds the image a power cut could leave.
//
// The model (docs/DECISIONS.md, "Journal"):
// - a file's data reaches the durable image at sync_data(); until then, at a crash, each
//   unsynced write is kept, dropped, or torn: cut into 512-byte or 4 KiB pieces (aligned in
//   the file), each piece kept, dropped, zeroed, or filled with garbage. Only the bytes a write
//   covered are touched ("powersafe overwrite": a torn sector does not damage its neighbours);
// - size changes (allocate, truncate) not yet synced are kept or dropped;
// - directory operations (create, rename, remove) reach the durable image at sync() of the
//   directory; at a crash, a prefix of the unsynced ones survives (ordered metadata);
// - any operation can be made to fail with an errno, or to be the crash point (that operation
//   and every later one throw, nothing more reaches the image).
// Everything is reproducible from the seed.
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "journal/directory.hpp"

namespace hs::test {

/// Thrown by every operation from the crash point on.
struct simulated_crash : std::runtime_error {
    simulated_crash() : std::runtime_error("simulated power loss") {}
};

class sim_disk : public std::enable_shared_from_this<sim_disk> {
public:
    struct inode {
        std::string durable; ///< what survives a crash for sure
        std::string current; ///< what reads see now
        struct op {
            bool write = false; ///< else a resize to `size`
            std::uint64_t offset = 0;
            std::string bytes;
            std::uint64_t size = 0;
        };
        std::vector<op> unsynced;
    };
    struct dir_op {
        enum kind { create, rename, remove } what;
        std::string a, b;
        std::shared_ptr<inode> node;
    };

    /// Counts every operation; the \p n-th (from 1) fails with \p err, or crashes if err == 0.
    void fail_at(std::uint64_t n, int err) {
        std::lock_guard l(mu);
        fail_op = n;
        fail_errno = err;
    }
    /// Allocations past this many bytes in all files fail with ENOSPC.
    void limit_space(std::uint64_t bytes) {
        std::lock_guard l(mu);
        space = bytes;
    }
    std::uint64_t operations() const {
        std::lock_guard l(mu);
        return ops;
    }
    bool crashed() const {
        std::lock_guard l(mu);
        return is_crashed;
    }

    /// The disk a power cut at this moment could leave, chosen by \p seed; an unbroken disk
    /// (unlocked) that a new directory object can be opened on.
    std::shared_ptr<sim_disk> after_crash(std::uint64_t seed) const {
        std::lock_guard l(mu);
        std::mt19937_64 rng(seed);
        auto out = std::make_shared<sim_disk>();
        // Directory: the durable entries, then a prefix of the unsynced operations.
        std::map<std::string, std::shared_ptr<inode>> survived = durable_entries;
        const std::size_t keep = unsynced_dir.empty() ? 0 : rng() % (unsynced_dir.size() + 1);
        for (std::size_t i = 0; i < keep; ++i) {
            apply(survived, unsynced_dir[i]);
        }
        std::map<const inode*, std::shared_ptr<inode>> copies;
        for (auto& [name, node] : survived) {
            auto& c = copies[node.get()];
            if (!c) {
                c = std::make_shared<inode>();
                c->durable = crash_image(*node, rng);
                c->current = c->durable;
            }
            out->durable_entries[name] = c;
        }
        out->entries = out->durable_entries;
        return out;
    }

    /// The disk a kill -9 at this moment leaves: the process is gone, the kernel keeps every
    /// write and directory change, synced or not (a power cut later may still lose the unsynced
    /// ones: call after_crash on the result). Unlocked, so a new directory object can open it.
    std::shared_ptr<sim_disk> after_kill() const {
        std::lock_guard l(mu);
        auto out = std::make_shared<sim_disk>();
        std::map<const inode*, std::shared_ptr<inode>> copies;
        auto copy = [&](const std::shared_ptr<inode>& n) {
            auto& c = copies[n.get()];
            if (!c) {
                c = std::make_shared<inode>(*n);
            }
            return c;
        };
        for (const auto& [name, node] : entries) {
            out->entries[name] = copy(node);
        }
        for (const auto& [name, node] : durable_entries) {
            out->durable_entries[name] = copy(node);
        }
        for (const dir_op& op : unsynced_dir) {
            dir_op o = op;
            if (o.node) {
                o.node = copy(o.node);
            }
            out->unsynced_dir.push_back(std::move(o));
        }
        return out;
    }

    /// The current content of a file, for tests that damage an image.
    std::string* content(const std::string& name) {
        std::lock_guard l(mu);
        auto it = entries.find(name);
        return it == entries.end() ? nullptr : &it->second->current;
    }
    /// Makes everything durable as it is now (a clean image to damage by hand).
    void settle() {
        std::lock_guard l(mu);
        for (auto& [n, node] : entries) {
            node->durable = node->current;
            node->unsynced.clear();
        }
        durable_entries = entries;
        unsynced_dir.clear();
    }
    std::vector<std::string> file_names() const {
        std::lock_guard l(mu);
        std::vector<std::string> out;
        for (auto& [n, node] : entries) {
            out.push_back(n);
        }
        return out;
    }

    // --- used by the directory and file objects ---
    /// Counts an operation; throws the injected failure or crash.
    void step(const char* what) {
        if (is_crashed) {
            throw simulated_crash();
        }
        ++ops;
        if (ops == fail_op) {
            if (fail_errno == 0) {
                is_crashed = true;
                throw simulated_crash();
            }
            throw std::system_error(fail_errno, std::generic_category(),
                                    std::string("injected failure of ") + what);
        }
    }
    std::uint64_t used() const {
        std::uint64_t n = 0;
        std::map<const inode*, bool> seen;
        for (auto& [name, node] : entries) {
            if (!seen[node.get()]) {
                seen[node.get()] = true;
                n += node->current.size();
            }
        }
        return n;
    }

    mutable std::mutex mu;
    std::map<std::string, std::shared_ptr<inode>> entries;
    std::map<std::string, std::shared_ptr<inode>> durable_entries;
    std::vector<dir_op> unsynced_dir;
    std::uint64_t ops = 0;
    std::uint64_t fail_op = 0;
    int fail_errno = 0;
    bool is_crashed = false;
    bool locked = false;
    std::uint64_t space = UINT64_MAX;

private:
    static void apply(std::map<std::string, std::shared_ptr<inode>>& e, const dir_op& op) {
        switch (op.what) {
        case dir_op::create:
            e[op.a] = op.node;
            break;
        case dir_op::rename:
            if (auto it = e.find(op.a); it != e.end()) {
                e[op.b] = it->second;
                e.erase(op.a);
            }
            break;
        case dir_op::remove:
            e.erase(op.a);
            break;
        }
    }

    static std::string crash_image(const inode& n, std::mt19937_64& rng) {
        std::string img = n.durable;
        for (const inode::op& op : n.unsynced) {
            const unsigned choice = static_cast<unsigned>(rng() % 4);
            if (!op.write) {
                if (choice != 0) {
                    img.resize(op.size, '\0');
                }
                continue;
            }
            if (choice == 0) {
                continue; // dropped whole
            }
            if (img.size() < op.offset + op.bytes.size()) {
                img.resize(op.offset + op.bytes.size(), '\0');
            }
            if (choice == 1) {
                img.replace(op.offset, op.bytes.size(), op.bytes); // kept whole
                continue;
            }
            // Torn at 512 B or 4 KiB pieces, aligned in the file.
            const std::uint64_t piece = choice == 2 ? 512 : 4096;
            std::uint64_t at = op.offset;
            const std::uint64_t end = op.offset + op.bytes.size();
            while (at < end) {
                const std::uint64_t next = std::min(end, (at / piece + 1) * piece);
                const std::size_t len = static_cast<std::size_t>(next - at);
                switch (rng() % 4) {
                case 0: // dropped: what was there stays
                    break;
                case 1:
                    img.replace(at, len, op.bytes.substr(at - op.offset, len));
                    break;
                case 2:
                    img.replace(at, len, std::string(len, '\0'));
                    break;
                default: {
                    std::string junk(len, '\0');
                    for (char& c : junk) {
                        c = static_cast<char>(rng());
                    }
                    img.replace(at, len, junk);
                }
                }
                at = next;
            }
        }
        return img;
    }
};

class sim_file final : public journal::file {
public:
    sim_file(std::shared_ptr<sim_disk> d, std::shared_ptr<sim_disk::inode> n)
        : disk_(std::move(d)), node_(std::move(n)) {}

    void write_at(std::uint64_t offset, std::string_view bytes) override {
        std::lock_guard l(disk_->mu);
        disk_->step("write");
        std::string& c = node_->current;
        if (c.size() < offset + bytes.size()) {
            c.resize(offset + bytes.size(), '\0');
        }
        c.replace(offset, bytes.size(), bytes);
        node_->unsynced.push_back({true, offset, std::string(bytes), 0});
    }
    void sync_data() override {
        std::lock_guard l(disk_->mu);
        disk_->step("fdatasync");
        node_->durable = node_->current;
        node_->unsynced.clear();
    }
    void allocate(std::uint64_t size) override {
        std::lock_guard l(disk_->mu);
        disk_->step("fallocate");
        if (size > node_->current.size()) {
            if (disk_->used() + (size - node_->current.size()) > disk_->space) {
                throw std::system_error(ENOSPC, std::generic_category(), "simulated disk full");
            }
            node_->current.resize(size, '\0');
            node_->unsynced.push_back({false, 0, {}, size});
        }
    }
    void truncate(std::uint64_t size) override {
        std::lock_guard l(disk_->mu);
        disk_->step("ftruncate");
        node_->current.resize(size, '\0');
        node_->unsynced.push_back({false, 0, {}, size});
    }

private:
    std::shared_ptr<sim_disk> disk_;
    std::shared_ptr<sim_disk::inode> node_;
};

class sim_directory final : public journal::directory {
public:
    explicit sim_directory(std::shared_ptr<sim_disk> d) : disk_(std::move(d)) {}
    ~sim_directory() override {
        if (locked_) {
            std::lock_guard l(disk_->mu);
            disk_->locked = false;
        }
    }

    bool try_lock() override {
        std::lock_guard l(disk_->mu);
        if (disk_->locked) {
            return false;
        }
        disk_->locked = locked_ = true;
        return true;
    }
    std::vector<std::string> names() override {
        std::lock_guard l(disk_->mu);
        disk_->step("readdir");
        std::vector<std::string> out;
        for (auto& [n, node] : disk_->entries) {
            out.push_back(n);
        }
        return out;
    }
    std::unique_ptr<journal::file> create(std::string_view name) override {
        std::lock_guard l(disk_->mu);
        disk_->step("create");
        const std::string n(name);
        if (disk_->entries.count(n) != 0) {
            throw std::system_error(EEXIST, std::generic_category(), "create " + n);
        }
        auto node = std::make_shared<sim_disk::inode>();
        disk_->entries[n] = node;
        disk_->unsynced_dir.push_back({sim_disk::dir_op::create, n, {}, node});
        return std::make_unique<sim_file>(disk_, node);
    }
    std::unique_ptr<journal::file> open(std::string_view name) override {
        std::lock_guard l(disk_->mu);
        disk_->step("open");
        auto it = disk_->entries.find(std::string(name));
        if (it == disk_->entries.end()) {
            throw std::system_error(ENOENT, std::generic_category(), "open " + std::string(name));
        }
        return std::make_unique<sim_file>(disk_, it->second);
    }
    std::string read(std::string_view name) override {
        std::lock_guard l(disk_->mu);
        disk_->step("read");
        auto it = disk_->entries.find(std::string(name));
        if (it == disk_->entries.end()) {
            throw std::system_error(ENOENT, std::generic_category(), "read " + std::string(name));
        }
        return it->second->current;
    }
    void rename(std::string_view from, std::string_view to) override {
        std::lock_guard l(disk_->mu);
        disk_->step("rename");
        auto it = disk_->entries.find(std::string(from));
        if (it == disk_->entries.end()) {
            throw std::system_error(ENOENT, std::generic_category(), "rename");
        }
        disk_->entries[std::string(to)] = it->second;
        disk_->entries.erase(it);
        disk_->unsynced_dir.push_back(
            {sim_disk::dir_op::rename, std::string(from), std::string(to), nullptr});
    }
    void remove(std::string_view name) override {
        std::lock_guard l(disk_->mu);
        disk_->step("unlink");
        if (disk_->entries.erase(std::string(name)) != 0) {
            disk_->unsynced_dir.push_back(
                {sim_disk::dir_op::remove, std::string(name), {}, nullptr});
        }
    }
    void sync() override {
        std::lock_guard l(disk_->mu);
        disk_->step("fsync(dir)");
        disk_->durable_entries = disk_->entries;
        disk_->unsynced_dir.clear();
    }
    std::string describe(std::string_view name) const override {
        return "sim/" + std::string(name);
    }

private:
    std::shared_ptr<sim_disk> disk_;
    bool locked_ = false;
};

} // namespace hs::test
