#pragma once
// Readable request fixtures (tests/fixtures/requests/*.md), shared by the parser unit tests, the
// end-to-end tests and the fuzz corpus. Format of one case:
//
//   ## a name
//   status: 400          expected status of the server's response
//   close: yes           whether the server closes the connection after it
//   body: hello\r\n      (optional) the decoded body the parser must produce
//   ```http
//   GET / HTTP/1.1\r\nHost: a\r\n\r\n
//   ```
//
// Inside the block, line breaks of the file are ignored and \r \n \t \0 \\ \xHH are escapes, so
// every byte is visible and long requests can be wrapped.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hs::test {

struct fixture {
    std::string file;
    std::string name;
    int status = 0;
    bool close = false;
    bool has_body = false;
    std::string body;
    std::string raw;
};

/// gtest prints parameters; show the fixture's name, not its bytes.
inline void PrintTo(const fixture& f, std::ostream* os) {
    *os << f.file << ": " << f.name;
}

/// A gtest-safe name for a fixture: file stem + name + index, alphanumerics and '_' only.
inline std::string fixture_test_name(const fixture& f, std::size_t index) {
    std::string n = f.file.substr(0, f.file.find('.')) + "_" + f.name;
    for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
            c = '_';
        }
    }
    return n + "_" + std::to_string(index);
}

inline std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char e = s[++i];
        switch (e) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '0':
            out += '\0';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x':
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
            break;
        default:
            out += '\\';
            out += e;
            break;
        }
    }
    return out;
}

inline std::vector<fixture> load_fixtures(const std::string& dir = std::string(HS_FIXTURE_DIR) +
                                                                   "/requests") {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".md") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<fixture> out;
    for (const auto& path : files) {
        std::ifstream in(path);
        std::string line;
        fixture cur;
        bool in_block = false;
        std::string block;
        auto finish = [&] {
            if (!cur.name.empty()) {
                if (cur.status == 0 || cur.raw.empty()) {
                    throw std::runtime_error("fixture '" + cur.name + "' in " + path.string() +
                                             " needs a status and a request block");
                }
                out.push_back(cur);
            }
            cur = fixture{};
            cur.file = path.filename().string();
        };
        cur.file = path.filename().string();
        while (std::getline(in, line)) {
            if (in_block) {
                if (line.rfind("```", 0) == 0) {
                    in_block = false;
                    cur.raw = unescape(block);
                    block.clear();
                } else {
                    block += line;
                }
            } else if (line.rfind("## ", 0) == 0) {
                finish();
                cur.name = line.substr(3);
            } else if (line.rfind("status: ", 0) == 0) {
                cur.status = std::stoi(line.substr(8));
            } else if (line.rfind("close: ", 0) == 0) {
                cur.close = line.substr(7) == "yes";
            } else if (line.rfind("body: ", 0) == 0) {
                cur.has_body = true;
                cur.body = unescape(line.substr(6));
            } else if (line.rfind("```http", 0) == 0) {
                in_block = true;
            }
        }
        finish();
    }
    return out;
}

} // namespace hs::test
