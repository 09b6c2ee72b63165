#pragma once
// The connection's parsing path without the connection: head parser -> framing -> body (length
// or in-place chunked). Fed the bytes received so far, it reports need-more, an error status,
// or a complete request. Used by the fixture tests and the fuzzers.
#include <string>

#include "http/chunked_decoder.hpp"
#include "http/framing.hpp"
#include "http/request_parser.hpp"

namespace hs::test {

struct outcome {
    enum class kind { need_more, error, complete } what = kind::need_more;
    http::parse_error error = http::parse_error::none;
    int status = 0;           // of the error
    std::string body;         // when complete
    std::size_t consumed = 0; // raw bytes of the request, when complete
    bool keep_alive = false;
};

class pipeline {
public:
    explicit pipeline(const limits& l) : lim_(l), parser_(l), chunks_(l) {}

    /// \p buf holds every byte received so far (the same prefix on every call; the chunked
    /// decoder rewrites it in place, as the connection's buffer).
    outcome feed(std::string& buf) {
        outcome o;
        if (!head_done_) {
            const auto r = parser_.parse(buf, head_);
            if (r.what == http::parse_result::kind::need_more) {
                return o;
            }
            if (r.what == http::parse_result::kind::error) {
                return fail(r.error);
            }
            head_len_ = r.consumed;
            const auto fr = http::plan_request(head_, lim_);
            if (fr.error != http::parse_error::none) {
                return fail(fr.error);
            }
            plan_ = fr.plan;
            head_done_ = true;
        }
        o.keep_alive = plan_.keep_alive;
        switch (plan_.body) {
        case http::message_plan::body_kind::none:
            o.what = outcome::kind::complete;
            o.consumed = head_len_;
            return o;
        case http::message_plan::body_kind::length:
            if (buf.size() - head_len_ < plan_.content_length) {
                return o;
            }
            o.what = outcome::kind::complete;
            o.body = buf.substr(head_len_, plan_.content_length);
            o.consumed = head_len_ + plan_.content_length;
            return o;
        case http::message_plan::body_kind::chunked: {
            std::span<char> region(buf.data() + head_len_, buf.size() - head_len_);
            const auto st = chunks_.decode(region);
            if (st == http::chunked_decoder::status::need_more) {
                // Exercise compaction as the connection does, then keep the buffer consistent.
                buf.resize(buf.size() - chunks_.compact(region));
                return o;
            }
            if (st == http::chunked_decoder::status::error) {
                return fail(chunks_.error());
            }
            o.what = outcome::kind::complete;
            o.body.assign(region.data(), chunks_.decoded_size());
            o.consumed = head_len_ + chunks_.consumed();
            return o;
        }
        }
        return o;
    }

    const http::request_head& head() const { return head_; }

private:
    outcome fail(http::parse_error e) {
        outcome o;
        o.what = outcome::kind::error;
        o.error = e;
        o.status = http::describe(e).status;
        return o;
    }

    const limits& lim_;
    http::request_parser parser_;
    http::chunked_decoder chunks_;
    http::request_head head_;
    http::message_plan plan_;
    bool head_done_ = false;
    std::size_t head_len_ = 0;
};

} // namespace hs::test
