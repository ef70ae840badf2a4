// libFuzzer target for decoding the JSON event body of POST /v1/events (and of a WebSocket
// publish message): arbitrary bytes as the body, delivered whole and, through Beast's request
// parser, in split chunks as a connection would bring them.
//
// Checks: decoding never throws; an error is invalid_argument or too_large with a message; a
// decoded body holds 1..k_events_per_request_max events; each event encodes back to JSON that
// parses, with a JSON payload shown as the same value; base64 round-trips the payload bytes;
// the body assembled from chunks decodes exactly as the whole one; and a body the direct
// decoder takes decodes exactly as the full decoder (JSON document) decodes it.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "fuzz_util.h"
#include "server/base64.h"
#include "server/event_json.h"
#include "server/event_json_direct.h"
#include "server/rest_limits.h"

namespace {

namespace http = boost::beast::http;

// A summary of a decode, to compare two decodes of the same bytes.
std::string outcome(const es::result<es::server::decoded_publish>& r) {
    if (!r) return std::string("error ") + es::errc_name(r.err().code) + ": " + r.err().message;
    std::string s = "topic " + r->topic + (r->batch ? " batch" : " one");
    for (const auto& e : r->events) {
        s += "|" + e.key.value_or("<none>") + "|" + e.payload;
        for (const auto& [n, v] : e.headers) s += "|" + n + "=" + v;
    }
    return s;
}

void check_decoded(const es::result<es::server::decoded_publish>& r) {
    if (!r) {
        const auto code = r.err().code;
        ES_ASSERT(code == es::errc::invalid_argument || code == es::errc::too_large);
        ES_ASSERT(!r.err().message.empty());
        return;
    }
    ES_ASSERT(!r->events.empty() && r->events.size() <= es::server::k_events_per_request_max);
    for (const auto& e : r->events) {
        ES_ASSERT(e.headers.size() <= es::server::k_event_headers_max);
        const auto doc = es::server::event_json(r->topic, 0, 0, 0, e.key, e.payload, e.headers,
                                                es::server::payload_form::automatic);
        const std::string text = es::server::dump_json(doc);
        const auto back = nlohmann::json::parse(text, nullptr, false);
        ES_ASSERT(!back.is_discarded());
        if (doc.contains("encoding")) {
            ES_ASSERT(es::server::base64_decode(doc["payload"].get<std::string>()) == e.payload);
        } else {
            ES_ASSERT(back["payload"] == nlohmann::json::parse(e.payload));
        }
        ES_ASSERT(es::server::base64_decode(es::server::base64_encode(e.payload)) == e.payload);
    }
}

// The body as Beast assembles it from `chunks` of a whole request.
std::optional<std::string> body_from_chunks(std::string_view body) {
    const std::string request =
        "POST /v1/events HTTP/1.1\r\nHost: f\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + std::string(body);
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    parser.eager(true);
    std::string pending;
    for (const auto chunk : es::fuzz::split_chunks(request)) {
        pending += chunk;
        boost::beast::error_code ec;
        const size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
        if (ec == http::error::need_more) ec = {};
        if (ec) return std::nullopt;
        pending.erase(0, used);
    }
    if (!parser.is_done()) return std::nullopt;
    return parser.release().body();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto whole = es::server::decode_publish_body(body);
    check_decoded(whole);
    if (auto direct = es::server::decode_publish_direct(body)) {
        auto doc = es::server::parse_json_body(body);
        ES_ASSERT(doc.has_value());
        ES_ASSERT(outcome(std::move(*direct)) == outcome(es::server::decode_publish(*doc)));
    }

    const auto assembled = body_from_chunks(body);
    ES_ASSERT(assembled.has_value() || size > (1 << 20));
    if (assembled) {
        ES_ASSERT(*assembled == body);
        ES_ASSERT(outcome(es::server::decode_publish_body(*assembled)) == outcome(whole));
    }
    return 0;
}
