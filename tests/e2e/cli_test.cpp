// The command line: bad flags and values exit 2 naming them; --help lists every flag.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

/// A config file with \p text, removed with the object.
struct config_file {
    std::string path;
    explicit config_file(const std::string& text)
        : path((std::filesystem::temp_directory_path() /
                ("hs-config-" + std::to_string(::getpid()) + "-" +
                 std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".toml"))
                   .string()) {
        std::ofstream(path) << text;
    }
    ~config_file() { std::filesystem::remove(path); }
};

TEST(cli, a_config_file_sets_options_and_flags_override_it) {
    config_file f("max-body-bytes = 10\naccess-log = \"off\"\n");
    const std::string post = "POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 20\r\n\r\n{\"aaaaaaaaaaaaaa\":1}";
    {
        hs::test::server_process s({"--config", f.path});
        const auto r = hs::test::request_once(s.port(), post);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413); // the file's limit
    }
    hs::test::server_process s({"--config", f.path, "--max-body-bytes", "100"});
    const auto r = hs::test::request_once(s.port(), post);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201); // the flag's
}

TEST(cli, a_config_file_with_an_unknown_key_a_bad_value_or_no_file_exits_2_naming_it) {
    config_file unknown("threads = 1\nbogus-key = 3\n");
    auto r = run("--config " + unknown.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("bogus-key"), std::string::npos) << r.output;
    config_file bad("threads = \"many\"\n");
    r = run("--config " + bad.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("threads"), std::string::npos) << r.output;
    r = run("--config /nonexistent/http_server.toml");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("/nonexistent/http_server.toml"), std::string::npos) << r.output;
}

TEST(cli, the_environment_wins_over_the_config_file) {
    // Both keys are bad, and the first one read fails first: with PORT set, the file's port is
    // not used at all, so the error is about the second key.
    config_file f("port = 70000\nmax-connections = 0\n");
    auto r = run("--config " + f.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("port"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("max-connections"), std::string::npos) << r.output;
    r = run("--config " + f.path, "PORT=0");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("max-connections"), std::string::npos) << r.output;
}

TEST(cli, the_example_config_file_is_valid) {
    // Every key of examples/http_server.toml is a flag with a valid value: the server starts
    // with it (a bad key would exit 2 before the listening line) and serves.
    const std::string example = std::string(HS_FIXTURE_DIR) + "/../../examples/http_server.toml";
    ASSERT_TRUE(std::filesystem::exists(example));
    hs::test::server_process s({"--config", example});
    EXPECT_TRUE(hs::test::serves(s.port()));
}

TEST(cli, version) {
    const auto r = run("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.output.rfind("http_server ", 0), 0u) << r.output;
}

} // namespace
