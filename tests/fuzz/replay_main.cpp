// Replays a fuzz target's corpus under the regular compiler and test suite: every file of the
// given directories through LLVMFuzzerTestOneInput. The harness aborts on a broken invariant,
// so a failing input fails the test.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::size_t n = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::filesystem::is_directory(argv[i])) {
            continue;
        }
        for (const auto& e : std::filesystem::directory_iterator(argv[i])) {
            if (!e.is_regular_file() || e.path().filename().string().front() == '.') {
                continue;
            }
            std::ifstream in(e.path(), std::ios::binary);
            const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
            LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                   bytes.size());
            ++n;
        }
    }
    std::printf("%zu inputs replayed\n", n);
    return 0;
}
