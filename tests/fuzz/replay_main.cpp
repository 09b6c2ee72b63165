// Replays a fuzz target's corpus under the regular compiler and test suite: every file of the
// given directories (or a file given itself) through LLVMFuzzerTestOneInput. The harness aborts
// on a broken invariant, so a failing input fails the test. A path that does not exist, or a
// run that replays no input at all, fails too: a moved or emptied corpus must not pass quietly.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

/// Feeds one file to the harness; false when it cannot be read.
bool replay(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: %s: cannot be read\n", p.c_str());
        return false;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    std::size_t n = 0;
    bool failed = false;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        const auto status = std::filesystem::status(arg, ec);
        if (std::filesystem::is_regular_file(status)) {
            if (replay(arg)) {
                ++n;
            } else {
                failed = true;
            }
            continue;
        }
        if (!std::filesystem::is_directory(status)) {
            std::fprintf(stderr, "replay: %s: %s\n", argv[i],
                         ec                                ? ec.message().c_str()
                         : std::filesystem::exists(status) ? "is neither a file nor a directory"
                                                           : "does not exist");
            failed = true;
            continue;
        }
        std::size_t here = 0;
        for (const auto& e : std::filesystem::directory_iterator(arg)) {
            if (!e.is_regular_file() || e.path().filename().string().front() == '.') {
                continue;
            }
            if (!replay(e.path())) {
                failed = true;
                continue;
            }
            ++here;
        }
        if (here == 0) {
            std::fprintf(stderr, "replay: %s: holds no input file\n", argv[i]);
            failed = true;
        }
        n += here;
    }
    std::printf("%zu inputs replayed\n", n);
    if (n == 0) {
        std::fprintf(stderr, "replay: no input was replayed\n");
        return 1;
    }
    return failed ? 1 : 0;
}
