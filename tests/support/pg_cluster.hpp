#pragma once
// A real PostgreSQL for the tests: scripts/pg.sh runs initdb + pg_ctl in a directory (as the
// unprivileged "nobody" when run as root). shared() is the cluster CTest's pg fixture started
// (HS_PG_DIR), for tests that only need a database; a test that stops or restarts the database
// makes its own with private_cluster().
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace hs::test {

class pg_cluster {
public:
    /// The cluster of the pg fixture (HS_PG_DIR), started if it is not running yet.
    static pg_cluster shared() {
        const char* dir = std::getenv("HS_PG_DIR");
        if (dir == nullptr || *dir == '\0') {
            throw std::runtime_error(
                "HS_PG_DIR is not set: run the PostgreSQL tests through ctest");
        }
        return pg_cluster(dir, false);
    }
    /// A cluster of its own in a fresh temporary directory, destroyed with this object.
    static std::unique_ptr<pg_cluster> private_cluster() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hs-pg-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        return std::unique_ptr<pg_cluster>(new pg_cluster(tmpl, true));
    }
    pg_cluster(pg_cluster&&) = default;
    ~pg_cluster() {
        if (owned_ && !dir_.empty()) {
            run("destroy");
        }
    }

    const std::string& url() const { return url_; }
    const std::string& dir() const { return dir_; }
    void stop() { run("stop"); }
    void kill() { run("kill"); }
    void start() { url_ = trim(run("start")); }
    void restart() { run("restart"); }
    /// Runs \p sql through psql (-Atqc); returns its output.
    std::string psql(const std::string& sql) const {
        return run("psql", "-Atq -v ON_ERROR_STOP=1 -c " + quote(sql));
    }
    /// A schema name no other test uses.
    static std::string fresh_schema() {
        std::random_device rd;
        return "t" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000000u);
    }

private:
    pg_cluster(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) { start(); }

    static std::string quote(const std::string& s) {
        std::string q = "'";
        for (char c : s) {
            if (c == '\'') {
                q += "'\\''";
            } else {
                q += c;
            }
        }
        return q + "'";
    }
    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
            s.pop_back();
        }
        return s;
    }
    std::string run(const std::string& cmd, const std::string& extra = "") const {
        const std::string line = std::string("bash ") + HS_SCRIPTS_DIR + "/pg.sh " + cmd + " " +
                                 quote(dir_) + " " + extra + " 2>&1";
        FILE* p = ::popen(line.c_str(), "r");
        if (p == nullptr) {
            throw std::runtime_error("popen failed");
        }
        std::string out;
        std::array<char, 4096> buf{};
        while (std::fgets(buf.data(), buf.size(), p) != nullptr) {
            out += buf.data();
        }
        const int rc = ::pclose(p);
        if (rc != 0) {
            throw std::runtime_error("pg.sh " + cmd + " failed: " + out);
        }
        return out;
    }

    std::string dir_;
    std::string url_;
    bool owned_ = false;
};

} // namespace hs::test
