// Tests of append_response_head: the bytes must be those Beast's serializer writes for the same
// response, which the listener wrote before it had its own head writer.
#include "server/http_response_head.h"

#include <gtest/gtest.h>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace es::server {
namespace {

namespace http = boost::beast::http;

// The whole response as the listener built it with Beast.
std::string beast_bytes(const http_response& r, bool keep_alive) {
    http::response<http::string_body> m;
    m.version(11);
    m.result(r.status);
    m.set(http::field::server, "eventstream");
    m.set(http::field::content_type, std::string(r.content_type));
    for (const auto& [name, value] : r.headers) m.set(name, value);
    m.body() = r.body;
    m.keep_alive(keep_alive);
    m.prepare_payload();
    http::response_serializer<http::string_body> s(m);
    std::string out;
    boost::beast::error_code ec;
    while (!s.is_done()) {
        s.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
            out += boost::beast::buffers_to_string(buffers);
            s.consume(boost::beast::buffer_bytes(buffers));
        });
        EXPECT_FALSE(ec);
    }
    return out;
}

std::string ours(const http_response& r, bool keep_alive) {
    std::string out = "left alone|";
    append_response_head(out, r, keep_alive);
    out += r.body;
    return out;
}

void expect_same(const http_response& r) {
    for (const bool keep_alive : {true, false}) {
        SCOPED_TRACE("status " + std::to_string(r.status) + (keep_alive ? " keep-alive" : ""));
        EXPECT_EQ(ours(r, keep_alive), "left alone|" + beast_bytes(r, keep_alive));
    }
}

TEST(http_response_head_test, matches_beast_for_the_responses_we_send) {
    expect_same(json_ok(R"({"acks":"leader","id":"t.0.1","offset":1,"partition":0})"));
    auto created = json_ok("{}");
    created.status = 201;
    expect_same(created);
    auto accepted = json_ok(R"({"accepted":1,"acks":"0"})");
    accepted.status = 202;
    expect_same(accepted);
    expect_same(json_error(404, "not_found", "no route for GET /x"));
    expect_same(json_error(make_error(errc::queue_full, "full")));        // Retry-After
    expect_same(json_error(make_error(errc::not_leader, "ask node 2")));  // 421
    auto not_allowed = json_error(405, "method_not_allowed", "no");
    not_allowed.headers.emplace_back("Allow", "GET, POST");
    expect_same(not_allowed);
    auto upgrade = json_error(426, "upgrade_required", "use a WebSocket");
    upgrade.headers.emplace_back("Upgrade", "websocket");
    expect_same(upgrade);
    http_response text;
    text.content_type = "text/plain; version=0.0.4; charset=utf-8";
    text.body = std::string(100'000, 'm');
    expect_same(text);
    http_response empty;
    empty.body.clear();
    expect_same(empty);
    http_response unknown = json_ok("{}");
    unknown.status = 599;  // no reason phrase known
    expect_same(unknown);
}

TEST(http_response_head_test, a_later_field_of_the_same_name_replaces_an_earlier_one) {
    http_response r = json_ok("{}");
    r.headers = {{"Retry-After", "1"}, {"X-A", "a"}, {"retry-after", "2"}};
    expect_same(r);
    r.headers = {{"X-A", "a"}, {"server", "other"}, {"Content-Type", "text/csv"}};
    expect_same(r);
}

}  // namespace
}  // namespace es::server
