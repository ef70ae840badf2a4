// One WebSocket connection on /v1/stream (Boost.Beast): subscriptions whose events are pushed as
// JSON text frames as far as the client's credit allows, publishing, and the close codes for
// protocol violations. Message formats: docs/rest.md "WebSocket".
//
// Memory per connection is bounded: each subscription buffers at most
// k_subscription_buffered_events_max events per partition in its feed (the engine stops
// delivering when it is full), events leave the feed only against credit the client granted,
// and the outgoing queue holds at most k_websocket_outgoing_messages_max messages; a client that
// lets it fill is closed with 1008.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine.h"
#include "server/event_json.h"
#include "server/io_inbox.h"
#include "server/notifying_feed.h"
#include "server/rest_metrics.h"
#include "server/subscription_spec.h"

namespace es::server {

class rest_service;

class websocket_session : public std::enable_shared_from_this<websocket_session> {
  public:
    websocket_session(boost::beast::tcp_stream stream, std::shared_ptr<rest_service> service);
    ~websocket_session();

    // Answers the upgrade request and starts. On the stream's io thread.
    void start(boost::beast::http::request<boost::beast::http::string_body> request);
    // Closes with 1001 (going away) and ends the subscriptions; `done` runs once that is done.
    // Any thread.
    void shut_down(std::function<void()> done);

  private:
    struct subscription {
        uint32_t id = 0;
        core::topic_ptr topic;
        uint64_t engine_id = 0;
        std::string group;
        payload_form form = payload_form::automatic;
        std::shared_ptr<notifying_feed> feed;
        std::shared_ptr<const topic_edge_metrics> metrics;
        std::map<uint32_t, uint64_t> delivered;  // partition -> next offset sent
    };

    // All on the io thread.
    void on_accept(boost::beast::error_code ec);
    void read_next();
    void on_read(boost::beast::error_code ec, std::size_t bytes);
    void handle(const nlohmann::json& message);
    void subscribe(const subscription_spec& spec, payload_form form, const nlohmann::json& ref);
    void unsubscribe(const nlohmann::json& message);
    void commit(const nlohmann::json& message);
    void grant(const nlohmann::json& value);
    void publish(const nlohmann::json& message);
    void pump();
    // Queues a message for the client. Unless the caller checked the room itself
    // (`room_checked`: pump), a full queue closes the connection with 1008.
    void enqueue(std::string message, bool room_checked = false);
    std::vector<subscription>::iterator find_subscription(const nlohmann::json& message);
    void write_next();
    void reply_error(const error& e, const nlohmann::json& ref);
    // Ends the subscriptions, sends a close frame with `code` (RFC 6455) and `reason`, then
    // closes the socket. `closed`, if given, runs once the close handshake has ended (or at
    // once when there is nothing to close).
    void close_with(uint16_t code, const std::string& reason,
                    std::function<void()> closed = nullptr);
    // Ends the subscriptions and leaves the service; idempotent.
    void finish();
    // After each read: the part of a message that came, or a whole one.
    void on_read_some(boost::beast::error_code ec, std::size_t bytes);
    void end_subscription(subscription& s);
    // Commits every partition's delivered offset of `s` (its group's) without holding up the
    // connection; `done` runs on the connection's thread once each has answered (at once when
    // nothing was delivered) with the offsets stored and the first failure, if the session still
    // exists.
    using commit_done = std::function<void(websocket_session& self, nlohmann::json offsets,
                                           std::optional<error> failed)>;
    void commit_delivered(const subscription& s, commit_done done);

    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
    // Of the connection's io_context: answers and wake-ups from the workers come through it.
    io_inbox& inbox_;
    const std::shared_ptr<rest_service> service_;
    boost::beast::flat_buffer in_;
    // Runs while a message has begun and not ended (rest_options::websocket_message_timeout_ms).
    boost::asio::steady_timer message_timer_;
    bool in_message_ = false;
    // Counts messages begun: a deadline handler already queued when its message ended (cancel()
    // cannot stop it) must not close the next message.
    uint64_t message_number_ = 0;

    // On the io thread.
    std::deque<std::string> out_;
    uint64_t out_bytes_ = 0;
    bool writing_ = false;
    uint64_t credit_ = 0;
    std::vector<subscription> subscriptions_;
    uint32_t next_subscription_id_ = 1;
    uint32_t next_lane_ = 0;  // round robin over subscriptions
    bool accepted_ = false;
    bool closing_ = false;
    bool finished_ = false;
    // Subscription asked for in the query string, started once accepted.
    std::optional<subscription_spec> query_spec_;
    std::optional<error> query_error_;
    payload_form query_form_ = payload_form::automatic;
};

}  // namespace es::server
