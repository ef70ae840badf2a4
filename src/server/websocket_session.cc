// The /v1/stream WebSocket session: handshake, message loop, credit-driven event push.
#include "server/websocket_session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "core/event_id.h"
#include "server/http_router.h"
#include "server/publish_call.h"
#include "server/rest_limits.h"
#include "server/rest_service.h"

namespace es::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using json = nlohmann::json;

namespace {

result<payload_form> form_of(std::string_view text) {
    if (text == "auto") return payload_form::automatic;
    if (text == "base64") return payload_form::base64;
    return make_error(errc::invalid_argument,
                      "encoding: must be \"auto\" or \"base64\", got '" + std::string(text) + "'");
}

}  // namespace

websocket_session::websocket_session(beast::tcp_stream stream,
                                     std::shared_ptr<rest_service> service)
    : ws_(std::move(stream)),
      inbox_(inbox_of(ws_.get_executor())),
      service_(std::move(service)),
      message_timer_(ws_.get_executor()) {}

websocket_session::~websocket_session() = default;

void websocket_session::start(beast::http::request<beast::http::string_body> request) {
    // The handshake has its own limit; after it the stream's pings watch an idle client.
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = std::chrono::milliseconds(k_websocket_handshake_timeout_ms);
    timeouts.idle_timeout = std::chrono::milliseconds(k_websocket_idle_timeout_ms);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& r) { r.set(beast::http::field::server, "eventstream"); }));
    ws_.read_message_max(k_message_bytes_max);
    ws_.auto_fragment(false);

    // A subscription in the query string starts once the handshake is done.
    http_request parsed;
    parsed.set_target(std::string_view(request.target().data(), request.target().size()));
    auto get = [&parsed](std::string_view name) { return parsed.query_param(name); };
    // The connection's first credit, with or without a subscription in the query.
    if (auto c = get("credit")) {
        uint64_t n = 0;
        for (const char ch : *c) {
            if (ch < '0' || ch > '9' || n > k_websocket_credit_max) {
                n = k_websocket_credit_max + 1;
                break;
            }
            n = n * 10 + static_cast<uint64_t>(ch - '0');
        }
        if (n > k_websocket_credit_max) {
            query_error_ =
                make_error(errc::invalid_argument,
                           "credit: must be 0.." + std::to_string(k_websocket_credit_max));
        } else {
            credit_ = n;
        }
    }
    if (get("topic")) {
        auto spec = subscription_spec_of_query(get);
        if (spec) {
            query_spec_ = std::move(*spec);
        } else {
            query_error_ = std::move(spec).err();
        }
        if (auto e = get("encoding")) {
            auto form = form_of(*e);
            if (form) {
                query_form_ = *form;
            } else {
                query_error_ = std::move(form).err();
            }
        }
    }
    ws_.async_accept(request,
                     beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
}

void websocket_session::on_accept(beast::error_code ec) {
    if (ec) {
        spdlog::debug("websocket: handshake failed: {}", ec.message());
        return;
    }
    accepted_ = true;
    if (!service_->add_session(shared_from_this())) {
        close_with(static_cast<uint16_t>(websocket::close_code::try_again_later),
                   "the node is stopping or has too many WebSocket connections");
        return;
    }
    if (closing_) return;  // shut_down() came first
    if (query_error_) {
        reply_error(*query_error_, json());
        close_with(static_cast<uint16_t>(websocket::close_code::policy_error),
                   query_error_->message.substr(0, 120));
        return;
    }
    if (query_spec_) subscribe(*query_spec_, query_form_, json());
    read_next();
}

void websocket_session::read_next() {
    if (closing_) return;
    // Read in parts, so that a message begun and then trickled a byte at a time is seen: Beast's
    // idle timer restarts with every byte and would keep such a client for ever.
    ws_.async_read_some(
        in_, k_message_bytes_max,
        beast::bind_front_handler(&websocket_session::on_read_some, shared_from_this()));
}

void websocket_session::on_read_some(beast::error_code ec, std::size_t bytes) {
    if (!ec && !closing_ && !ws_.is_message_done()) {
        if (!in_message_) {
            in_message_ = true;
            const uint64_t number = ++message_number_;
            message_timer_.expires_after(
                std::chrono::milliseconds(service_->options().websocket_message_timeout_ms));
            message_timer_.async_wait([self = shared_from_this(), number](beast::error_code e) {
                if (e || !self->in_message_ || self->message_number_ != number || self->closing_) {
                    return;
                }
                self->service_->metrics().websocket_message_timeouts().inc();
                self->close_with(static_cast<uint16_t>(websocket::close_code::policy_error),
                                 "a message was not finished in time");
                // The client's answer to the close cannot be read behind the half-sent
                // message: the connection goes a second later, answered or not.
                self->message_timer_.expires_after(std::chrono::seconds(1));
                self->message_timer_.async_wait([self](beast::error_code e2) {
                    if (e2) return;
                    beast::error_code ignored;
                    beast::get_lowest_layer(self->ws_).socket().close(ignored);
                });
            });
        }
        read_next();
        return;
    }
    if (in_message_) {
        in_message_ = false;
        message_timer_.cancel();
    }
    on_read(ec, bytes);
}

void websocket_session::on_read(beast::error_code ec, std::size_t) {
    if (ec) {
        // closed: the client's close handshake; else a protocol violation (Beast has already
        // sent the close frame with its code: 1002, 1007 for bad UTF-8, 1009 too big), a
        // time-out or a reset.
        if (ec != websocket::error::closed && ec != boost::asio::error::operation_aborted) {
            spdlog::debug("websocket: connection ended: {}", ec.message());
        }
        finish();
        return;
    }
    if (closing_) return;
    if (!ws_.got_text()) {
        in_.consume(in_.size());
        close_with(static_cast<uint16_t>(websocket::close_code::unknown_data),
                   "binary messages are not accepted; send JSON text");
        return;
    }
    const std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    auto message = parse_json_body(text);
    if (!message) {
        close_with(static_cast<uint16_t>(websocket::close_code::bad_payload),
                   message.err().message.substr(0, 120));
        return;
    }
    handle(*message);
    if (closing_) return;
    pump();
    read_next();
}

void websocket_session::handle(const json& message) {
    if (!message.is_object()) {
        reply_error(make_error(errc::invalid_argument, "a message must be a JSON object"), json());
        return;
    }
    const json ref = message.contains("ref") ? message["ref"] : json();
    std::string type;
    if (const auto it = message.find("type"); it != message.end()) {
        if (!it->is_string()) {
            reply_error(make_error(errc::invalid_argument, "type: must be a string"), ref);
            return;
        }
        type = it->get<std::string>();
    } else if (message.contains("credit")) {
        type = "credit";
    } else {
        reply_error(make_error(errc::invalid_argument,
                               "type: is required (subscribe, unsubscribe, credit, commit, "
                               "publish)"),
                    ref);
        return;
    }
    if (type == "credit") {
        const auto it = message.find("credit");
        grant(it == message.end() ? json() : *it);
    } else if (type == "subscribe") {
        auto spec = subscription_spec_of(message, {"type", "ref", "encoding", "credit"});
        if (!spec) {
            reply_error(spec.err(), ref);
            return;
        }
        payload_form form = payload_form::automatic;
        if (const auto it = message.find("encoding"); it != message.end()) {
            auto f = it->is_string() ? form_of(it->get<std::string>())
                                     : result<payload_form>(make_error(
                                           errc::invalid_argument, "encoding: must be a string"));
            if (!f) {
                reply_error(f.err(), ref);
                return;
            }
            form = *f;
        }
        subscribe(*spec, form, ref);
        if (const auto it = message.find("credit"); it != message.end()) grant(*it);
    } else if (type == "unsubscribe") {
        unsubscribe(message);
    } else if (type == "commit") {
        commit(message);
    } else if (type == "publish") {
        publish(message);
    } else {
        reply_error(make_error(errc::invalid_argument, "type: unknown message type '" + type +
                                                           "' (subscribe, unsubscribe, credit, "
                                                           "commit, publish)"),
                    ref);
    }
}

void websocket_session::grant(const json& value) {
    if (!value.is_number_unsigned() || value.get<uint64_t>() == 0) {
        reply_error(make_error(errc::invalid_argument, "credit: must be a positive integer"),
                    json());
        return;
    }
    const uint64_t n = value.get<uint64_t>();
    if (n > k_websocket_credit_max || credit_ + n > k_websocket_credit_max) {
        close_with(static_cast<uint16_t>(websocket::close_code::policy_error),
                   "credit above " + std::to_string(k_websocket_credit_max));
        return;
    }
    credit_ += n;
}

void websocket_session::subscribe(const subscription_spec& spec, payload_form form,
                                  const json& ref) {
    if (subscriptions_.size() >= k_websocket_subscriptions_max) {
        reply_error(
            make_error(errc::too_large, "at most " + std::to_string(k_websocket_subscriptions_max) +
                                            " subscriptions per connection"),
            ref);
        return;
    }
    auto topic = service_->engine().find_topic(spec.topic);
    if (!topic) {
        reply_error(topic.err(), ref);
        return;
    }
    subscription s;
    s.id = next_subscription_id_++;
    s.topic = *topic;
    s.group = spec.group;
    s.form = form;
    s.metrics = service_->metrics().for_topic(spec.topic, transport::websocket);
    core::feed_options feed_options;
    feed_options.max_buffered_events = k_subscription_buffered_events_max;
    feed_options.max_buffered_bytes = k_subscription_buffered_bytes_max;
    std::weak_ptr<websocket_session> weak = shared_from_this();
    s.feed = std::make_shared<notifying_feed>(s.topic->config.partitions, feed_options,
                                              [weak, &inbox = inbox_] {
                                                  inbox.post([weak] {
                                                      if (auto self = weak.lock()) self->pump();
                                                  });
                                              });
    auto id = service_->engine().subscribe(s.topic, spec.partitions, spec.start, s.feed, s.group);
    if (!id) {
        reply_error(id.err(), ref);
        return;
    }
    s.engine_id = *id;
    json partitions = json::array();
    if (spec.partitions.empty()) {
        for (uint32_t p = 0; p < s.topic->config.partitions; ++p) partitions.push_back(p);
    } else {
        partitions = spec.partitions;
    }
    json reply = {{"type", "subscribed"},
                  {"subscription", s.id},
                  {"topic", spec.topic},
                  {"partitions", std::move(partitions)}};
    if (!ref.is_null()) reply["ref"] = ref;
    subscriptions_.push_back(std::move(s));
    enqueue(dump_json(reply));
}

void websocket_session::end_subscription(subscription& s) {
    (void)service_->engine().unsubscribe(s.engine_id);
}

void websocket_session::commit_delivered(const subscription& s, commit_done done) {
    // Every partition's offset at once; in a cluster each goes through its partition's Raft
    // log, and `done` runs once all are stored, without holding up the connection.
    struct pending {
        std::mutex mutex;
        size_t left = 0;
        std::optional<error> failed;
        json offsets = json::object();
    };
    auto state = std::make_shared<pending>();
    state->left = s.delivered.size();
    if (state->left == 0) {
        done(*this, json::object(), std::nullopt);
        return;
    }
    std::weak_ptr<websocket_session> weak = shared_from_this();
    auto shared_done = std::make_shared<commit_done>(std::move(done));
    const auto delivered = s.delivered;  // the callbacks may run before this returns
    for (const auto& [p, next] : delivered) {
        service_->engine().commit_offset_async(
            s.topic, s.group, p, next,
            [state, weak, &inbox = inbox_, shared_done, p = p, next = next](status r) {
                std::unique_lock lock(state->mutex);
                if (!r && !state->failed) state->failed = r.err();
                if (r) state->offsets[std::to_string(p)] = next;
                if (--state->left != 0) return;
                lock.unlock();
                inbox.post([state, weak, shared_done] {
                    if (auto self = weak.lock()) {
                        (*shared_done)(*self, std::move(state->offsets), state->failed);
                    }
                });
            });
    }
}

std::vector<websocket_session::subscription>::iterator websocket_session::find_subscription(
    const json& message) {
    const auto sid = message.find("subscription");
    if (sid == message.end() || !sid->is_number_unsigned()) return subscriptions_.end();
    return std::find_if(subscriptions_.begin(), subscriptions_.end(),
                        [&](const subscription& s) { return s.id == sid->get<uint64_t>(); });
}

void websocket_session::unsubscribe(const json& message) {
    const json ref = message.value("ref", json());
    const auto it = find_subscription(message);
    if (it == subscriptions_.end()) {
        reply_error(make_error(errc::not_found, "subscription: none of that id on this connection"),
                    ref);
        return;
    }
    end_subscription(*it);
    const subscription ended = std::move(*it);
    subscriptions_.erase(it);
    // The answer comes once the group's offsets are stored, so that a subscription of the
    // group that follows starts after what this one delivered.
    auto answer = [ref, id = ended.id](websocket_session& self, json offsets,
                                       std::optional<error> failed) {
        json reply = {{"type", "unsubscribed"}, {"subscription", id}};
        if (!offsets.empty()) reply["offsets"] = std::move(offsets);
        if (failed) {
            reply["commit_error"] = {{"code", errc_name(failed->code)},
                                     {"message", failed->message}};
        }
        if (!ref.is_null()) reply["ref"] = ref;
        self.enqueue(dump_json(reply));
    };
    if (ended.group.empty()) {
        answer(*this, json::object(), std::nullopt);
        return;
    }
    commit_delivered(ended, std::move(answer));
}

void websocket_session::commit(const json& message) {
    const json ref = message.value("ref", json());
    const auto it = find_subscription(message);
    if (it == subscriptions_.end()) {
        reply_error(make_error(errc::not_found, "subscription: none of that id on this connection"),
                    ref);
        return;
    }
    if (it->group.empty()) {
        reply_error(make_error(errc::invalid_argument,
                               "subscription: has no group, so there is nothing to commit"),
                    ref);
        return;
    }
    commit_delivered(*it, [ref, id = it->id](websocket_session& self, json offsets,
                                             std::optional<error> failed) {
        if (failed) return self.reply_error(*failed, ref);
        json reply = {{"type", "committed"}, {"subscription", id}, {"offsets", std::move(offsets)}};
        if (!ref.is_null()) reply["ref"] = ref;
        self.enqueue(dump_json(reply));
    });
}

void websocket_session::publish(const json& message) {
    const auto started = std::chrono::steady_clock::now();
    const json ref = message.value("ref", json());
    auto decoded = decode_publish(message, {"type", "ref", "acks"});
    if (!decoded) {
        reply_error(decoded.err(), ref);
        return;
    }
    acks_mode acks = acks_mode::leader;
    if (const auto it = message.find("acks"); it != message.end()) {
        const std::string text = it->is_string()           ? it->get<std::string>()
                                 : it->is_number_integer() ? it->dump()
                                                           : "?";
        auto a = parse_acks(text);
        if (!a) {
            reply_error(a.err(), ref);
            return;
        }
        acks = *a;
    }
    auto topic = service_->engine().find_topic(decoded->topic);
    if (!topic) {
        reply_error(topic.err(), ref);
        return;
    }
    auto metrics = service_->metrics().for_topic(decoded->topic, transport::websocket);
    // The decoded events must live until the completion: it maps them to offsets.
    auto owned = std::make_shared<decoded_publish>(std::move(*decoded));
    auto views =
        std::make_shared<std::pair<std::vector<core::header_in>, std::vector<core::event_in>>>();
    make_event_views(*owned, views->first, views->second);
    const uint32_t partitions = (*topic)->config.partitions;
    std::weak_ptr<websocket_session> weak = shared_from_this();
    publish_async(
        service_->engine(), *topic, views->second, acks,
        [weak, &inbox = inbox_, owned, views, ref, acks, partitions, metrics,
         started](result<publish_report> r) {
            // On a worker thread (or here): build the reply, then hand it to the connection's
            // thread.
            json reply;
            metrics->publish_requests->inc();
            if (!r) {
                metrics->publish_errors->inc();
                reply = {{"type", "error"},
                         {"code", errc_name(r.err().code)},
                         {"message", r.err().message}};
            } else if (r->summary.events_refused > 0) {
                metrics->publish_errors->inc();
                metrics->events_published->inc(r->summary.events_queued);
                reply = {{"type", "error"},
                         {"code", errc_name(errc::queue_full)},
                         {"message", std::to_string(r->summary.events_refused) + " of " +
                                         std::to_string(owned->events.size()) +
                                         " events were refused (queue full); the others were "
                                         "accepted"}};
            } else {
                metrics->events_published->inc(r->summary.events_queued);
                reply = {{"type", "published"}, {"acks", acks_name(acks)}};
                if (acks != acks_mode::none) {
                    const auto places = place_events(views->second, partitions, r->outcomes);
                    json events = json::array();
                    for (const auto& p : places) {
                        if (!p.appended) {
                            events.push_back(nullptr);
                            continue;
                        }
                        events.push_back(
                            {{"id", core::format_event_id(owned->topic, p.partition, p.offset)},
                             {"partition", p.partition},
                             {"offset", p.offset}});
                    }
                    reply["events"] = std::move(events);
                } else {
                    reply["accepted"] = r->summary.events_queued;
                }
            }
            if (!ref.is_null()) reply["ref"] = ref;
            metrics->publish_latency_ns->record(
                static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count()));
            inbox.post([weak, text = dump_json(reply)]() mutable {
                if (auto self = weak.lock()) self->enqueue(std::move(text));
            });
        });
}

void websocket_session::pump() {
    if (closing_ || !accepted_ || subscriptions_.empty()) return;
    const auto n = static_cast<uint32_t>(subscriptions_.size());
    while (credit_ > 0 && out_.size() < k_websocket_outgoing_messages_max &&
           out_bytes_ < k_websocket_outgoing_bytes_max) {
        size_t taken_this_round = 0;
        for (uint32_t i = 0; i < n && credit_ > 0; ++i) {
            subscription& s = subscriptions_[(next_lane_ + i) % n];
            s.feed->arm();
            const auto room = static_cast<uint32_t>(
                std::min<uint64_t>({credit_, k_websocket_events_per_pass,
                                    k_websocket_outgoing_messages_max - out_.size()}));
            if (room == 0) break;
            size_t gaps = 0;
            const size_t taken = s.feed->feed().poll(
                [&](const core::event_view& v, uint32_t partition) {
                    json msg = event_json(s.topic->config.name, partition, v, s.form);
                    msg["type"] = "event";
                    msg["subscription"] = s.id;
                    s.delivered[partition] = v.offset + 1;
                    enqueue(dump_json(msg), true);
                },
                [&](uint32_t partition, uint64_t first, uint64_t last) {
                    s.delivered[partition] = last + 1;
                    ++gaps;
                    enqueue(dump_json({{"type", "gap"},
                                       {"subscription", s.id},
                                       {"partition", partition},
                                       {"first", first},
                                       {"last", last}}),
                            true);
                },
                room);
            if (taken > 0 || gaps > 0) s.feed->disarm();
            credit_ -= taken;
            if (taken > 0) s.metrics->events_delivered->inc(taken);
            taken_this_round += taken + gaps;
        }
        next_lane_ = (next_lane_ + 1) % n;
        if (taken_this_round == 0) break;
    }
}

void websocket_session::enqueue(std::string message, bool room_checked) {
    if (closing_) return;
    if (!room_checked && (out_.size() >= k_websocket_outgoing_messages_max ||
                          out_bytes_ + message.size() > k_websocket_outgoing_bytes_max)) {
        close_with(static_cast<uint16_t>(websocket::close_code::policy_error),
                   "the client does not read its messages");
        return;
    }
    out_bytes_ += message.size();
    out_.push_back(std::move(message));
    if (!writing_) write_next();
}

void websocket_session::write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->out_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                        if (ec || self->closing_) {
                            self->writing_ = false;
                            if (ec) self->finish();
                            return;
                        }
                        if (!self->out_.empty()) {
                            self->write_next();
                            return;
                        }
                        self->writing_ = false;
                        self->pump();
                    });
}

void websocket_session::reply_error(const error& e, const json& ref) {
    json reply = {{"type", "error"}, {"code", errc_name(e.code)}, {"message", e.message}};
    if (!ref.is_null()) reply["ref"] = ref;
    enqueue(dump_json(reply));
}

void websocket_session::close_with(uint16_t code, const std::string& reason,
                                   std::function<void()> closed) {
    if (closing_ || !accepted_) {
        closing_ = true;
        finish();
        if (closed) closed();
        return;
    }
    closing_ = true;
    finish();
    // The reason travels in a control frame of at most 125 bytes.
    websocket::close_reason why(static_cast<websocket::close_code>(code), reason.substr(0, 120));
    ws_.async_close(why,
                    [self = shared_from_this(), closed = std::move(closed)](beast::error_code) {
                        beast::error_code ignored;
                        beast::get_lowest_layer(self->ws_).socket().close(ignored);
                        if (closed) closed();
                    });
}

void websocket_session::finish() {
    if (finished_) return;
    finished_ = true;
    in_message_ = false;
    message_timer_.cancel();
    for (auto& s : subscriptions_) end_subscription(s);
    subscriptions_.clear();
    service_->remove_session(this);
}

void websocket_session::shut_down(std::function<void()> done) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
        // The stop waits until the close frame has gone out and the client answered it (async_
        // close reads the answer), so that the client sees 1001 rather than a reset; a client
        // that does not answer is waited for k_shutdown_close_ms at most.
        auto once = std::make_shared<std::atomic<bool>>(false);
        auto finished = [once, done] {
            if (!once->exchange(true)) done();
        };
        auto timer = std::make_shared<asio::steady_timer>(
            self->ws_.get_executor(), std::chrono::milliseconds(k_shutdown_close_ms));
        timer->async_wait([timer, finished](beast::error_code) { finished(); });
        self->close_with(static_cast<uint16_t>(websocket::close_code::going_away),
                         "the node is stopping", [timer, finished] {
                             timer->cancel();
                             finished();
                         });
    });
}

}  // namespace es::server
