// The command line: bad flags and values exit 2 naming them; --help lists every flag.
#include <gtest/gtest.h>

#include <string>

#include "e2e/server_process.hpp"

namespace {

using hs::test::run_binary;

/// The binary's exit status and output for \p args.
hs::test::run_result run(const std::string& args, const std::string& env = "") {
    return run_binary(args, env);
}

TEST(cli, bad_flags_and_values_exit_2_and_name_them) {
    auto r = run("--bogus");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("--bogus"), std::string::npos) << r.output;
    r = run("--threads many");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
    r = run("70000");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("PORT"), std::string::npos) << r.output;
    r = run("--access-log-format xml");
    EXPECT_EQ(r.status, 2);
    r = run("", "PORT=eighty");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("PORT"), std::string::npos) << r.output;
}

TEST(cli, help_lists_every_flag_with_its_default) {
    const auto r = run("--help");
    EXPECT_EQ(r.status, 0);
    for (const char* flag : {"--host TEXT=127.0.0.1",
                             "--port",
                             "=8080",
                             "--threads",
                             "--max-header-bytes",
                             "=16384",
                             "--max-header-fields",
                             "=100",
                             "--max-target-bytes",
                             "--max-body-bytes",
                             "=1048576",
                             "--header-timeout",
                             "=10",
                             "--idle-timeout",
                             "=60",
                             "--max-connections",
                             "--shutdown-timeout",
                             "--access-log",
                             "--access-log-format",
                             "--max-json-depth",
                             "--handler-timeout",
                             "=30",
                             "--reuse-port",
                             "--require-if-match",
                             "--version"}) {
        EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
    }
}

TEST(cli, version) {
    const auto r = run("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.output.rfind("http_server ", 0), 0u) << r.output;
}

} // namespace
