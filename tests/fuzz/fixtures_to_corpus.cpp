// Writes every request fixture as a raw corpus file (with a leading 0: "no cuts") for the
// request fuzzer, and its request line as a corpus file for the router fuzzer.
#include <fstream>
#include <iostream>

#include "support/fixtures.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: fixtures_to_corpus REQUEST_CORPUS_DIR ROUTER_CORPUS_DIR\n";
        return 2;
    }
    int n = 0;
    for (const auto& f : hs::test::load_fixtures()) {
        std::ofstream(std::string(argv[1]) + "/fixture-" + std::to_string(n), std::ios::binary)
            << '\0' << f.raw;
        const auto eol = f.raw.find("\r\n");
        std::string line = f.raw.substr(0, eol);
        const auto v = line.rfind(" HTTP/");
        std::ofstream(std::string(argv[2]) + "/fixture-" + std::to_string(n), std::ios::binary)
            << line.substr(0, v);
        ++n;
    }
    std::cout << n << " fixtures written\n";
    return 0;
}
