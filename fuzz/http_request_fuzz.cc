// libFuzzer target for HTTP requests as they arrive on a connection: the input is the bytes a
// client sent, read with Beast's request parser and the limits the listener sets, each request
// routed and its response serialised as http_listener.cc does, until the connection would end.
// The same bytes are served once whole and once in split chunks; both must get the same answers.
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "fuzz_util.h"
#include "http_fuzz_util.h"
#include "server/http_listener.h"
#include "server/http_response_head.h"
#include "server/http_router.h"

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

// A SyncReadStream that hands out its pieces one per read_some (less when the reader's buffer
// is smaller), then end of file: a client whose bytes arrive in bursts and which then closes.
class chunk_stream {
  public:
    explicit chunk_stream(std::vector<std::string_view> chunks) : chunks_(std::move(chunks)) {}

    template <class MutableBufferSequence>
    size_t read_some(const MutableBufferSequence& buffers) {
        beast::error_code ec;
        const size_t n = read_some(buffers, ec);
        if (ec) throw beast::system_error(ec);
        return n;
    }

    template <class MutableBufferSequence>
    size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
        ec = {};
        while (next_ < chunks_.size() && chunks_[next_].empty()) ++next_;
        if (next_ == chunks_.size()) {
            ec = net::error::eof;
            return 0;
        }
        std::string_view& chunk = chunks_[next_];
        const size_t n = net::buffer_copy(buffers, net::buffer(chunk.data(), chunk.size()));
        chunk.remove_prefix(n);
        return n;
    }

  private:
    std::vector<std::string_view> chunks_;
    size_t next_ = 0;
};

std::string_view to_std(beast::string_view s) {
    return {s.data(), s.size()};
}

// The response bytes, built as http_listener.cc's respond() builds them: the head written by
// append_response_head (whose checks of the response run here too), then the body.
std::string serialise(es::server::http_response r, bool keep_alive) {
    std::string out;
    es::server::append_response_head(out, r, keep_alive);
    out += r.body;
    return out;
}

// What a connection did with its bytes.
struct connection_log {
    std::vector<std::string> responses;  // each answer's bytes, in order
    std::string end;                     // why the connection ended
    bool header_limit = false;           // it ended on the header size limit
};

// Mirrors the session in http_listener.cc: a fresh parser per request with the listener's
// limits, one buffer for the connection, and requests read until an error or a request that
// does not keep the connection alive.
connection_log serve(chunk_stream stream) {
    const es::server::http_listener_options options;
    beast::flat_buffer buffer;
    connection_log log;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(options.body_bytes_max);
        parser.header_limit(options.header_bytes_max);
        beast::error_code ec;
        http::read(stream, buffer, parser, ec);
        if (ec) {
            // The listener answers body_limit with 413, header_limit with 431 and the other
            // parse errors with 400, then closes; on end of stream or a reset it just closes.
            log.end = ec.message();
            log.header_limit = ec == http::error::header_limit;
            return log;
        }
        const auto& req = parser.get();
        es::server::http_request request;
        request.method = to_std(req.method_string());
        request.set_target(to_std(req.target()));
        request.body = req.body();
        for (const auto& field : req) {
            request.headers.emplace_back(to_std(field.name_string()), to_std(field.value()));
        }
        auto response = es::fuzz::fuzz_router().route(request);
        es::fuzz::check_response(response);
        log.responses.push_back(serialise(std::move(response), req.keep_alive()));
        if (!req.keep_alive()) {
            log.end = "not keep-alive";
            return log;
        }
    }
}

// Complete requests get the same answers however the bytes arrived, save for two quirks of
// Beast's parser (not ours, and harmless in the listener):
// - The error that ends a connection may differ. Beast checks a request line as soon as it has
//   a piece of one, but after a piece that ends early only once the whole header is in: so
//   "PUT /v\n" then end of file is bad_target read at once (400) but partial_message read in
//   pieces (the connection just closes). Hence the reasons for the end are not compared.
// - header_limit counts the request line or not depending on whether it came in an earlier
//   read, so a header within a request line's length of the limit is taken one way and refused
//   (431) the other. The connection that hit the limit has then answered a prefix of the other's
//   requests.
bool same_answers(const connection_log& a, const connection_log& b) {
    if (a.responses == b.responses) return true;
    const bool a_shorter = a.responses.size() < b.responses.size();
    const connection_log& shorter = a_shorter ? a : b;
    const connection_log& longer = a_shorter ? b : a;
    return shorter.header_limit &&
           std::equal(shorter.responses.begin(), shorter.responses.end(), longer.responses.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    es::fuzz::set_node_state_from(input);
    const auto whole = serve(chunk_stream({input}));
    const auto split = serve(chunk_stream(es::fuzz::split_chunks(input)));
    if (!same_answers(whole, split)) {
        for (const auto* log : {&whole, &split}) {
            std::fprintf(stderr, "-- served %s:\n", log == &whole ? "whole" : "in chunks");
            for (const auto& r : log->responses) std::fprintf(stderr, "%s\n--\n", r.c_str());
            std::fprintf(stderr, "ended: %s\n", log->end.c_str());
        }
    }
    ES_ASSERT_MSG(same_answers(whole, split), "the answers changed when the bytes came in pieces");
    return 0;
}
