// native_session: the requests after HELLO, each against the engine.
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/assert.h"
#include "server/admin_pool.h"
#include "server/native_errors.h"
#include "server/native_publish.h"
#include "server/native_session.h"

namespace es::server {
namespace {

// Cached topic handles per connection, so that a stream of PUBLISH frames does not look the
// topic up each time.
constexpr size_t topic_cache_max = 64;

}  // namespace

void native_session::handle_request(const protocol::frame& f) {
    using protocol::message_type;
    context_->metrics.requests->inc();
    switch (f.header.type) {
        case message_type::hello:
            protocol_error(f.header.request_id,
                           make_error(errc::invalid_argument, "HELLO: sent twice"));
            return;
        case message_type::ping: {
            auto m = protocol::decode_ping(f.body);
            if (!m) return protocol_error(f.header.request_id, m.err());
            std::string bytes;
            protocol::encode_pong(bytes, f.header.request_id, *m);
            return reply(std::move(bytes));
        }
        case message_type::create_topic:
            return create_topic(f);
        case message_type::delete_topic:
            return delete_topic(f);
        case message_type::list_topics:
            return list_topics(f);
        case message_type::describe_topic:
            return describe_topic(f);
        case message_type::metadata:
            return metadata(f);
        case message_type::publish:
            return publish(f, true);
        case message_type::subscribe:
            return subscribe(f);
        case message_type::credit:
            return credit(f);
        case message_type::unsubscribe:
            return unsubscribe(f);
        case message_type::commit_offset:
            return commit_offset(f);
        case message_type::fetch_offset:
            return fetch_offset(f);
        default:
            protocol_error(
                f.header.request_id,
                make_error(errc::invalid_argument, std::string("type: ") +
                                                       protocol::message_type_name(f.header.type) +
                                                       " is sent by the server, not to it"));
    }
}

result<core::topic_ptr> native_session::find_topic(std::string_view name) {
    if (auto it = topics_.find(std::string(name)); it != topics_.end()) {
        if (!it->second->deleted.load(std::memory_order_acquire)) return it->second;
        topics_.erase(it);
    }
    auto t = context_->engine.find_topic(name);
    if (!t) return t;
    if (topics_.size() >= topic_cache_max) topics_.clear();
    topics_.emplace(std::string(name), *t);
    return t;
}

void native_session::run_admin(uint64_t seq, uint64_t id, std::function<result<std::string>()> work,
                               std::function<void(native_session&)> then) {
    admin_in_flight_ = true;
    std::weak_ptr<native_session> weak = weak_from_this();
    auto executor = socket_.get_executor();
    // Back on the io thread: the answer in its slot, then the requests held behind it.
    auto answer = [weak, executor, seq, id, then = std::move(then)](result<std::string> r) {
        asio::post(executor, [weak, seq, id, r = std::move(r), then]() mutable {
            auto self = weak.lock();
            if (!self) return;
            self->admin_in_flight_ = false;
            if (r) {
                self->fill(seq, std::move(*r));
                then(*self);
            } else {
                self->context_->metrics.error(native_error_kind::refused).inc();
                std::string bytes;
                encode_error(bytes, id, r.err());
                self->fill(seq, std::move(bytes));
            }
            self->progress();
        });
    };
    context_->admin.post([answer, work = std::move(work)] { answer(work()); },
                         [answer](const error& e) { answer(e); });
}

void native_session::create_topic(const protocol::frame& f) {
    auto m = protocol::decode_create_topic(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto config = topic_config_of(m->settings);
    if (!config) return reply_error(f.header.request_id, config.err());
    // In a cluster a creation waits for the controller's commit and the partitions' groups
    // (seconds when the controller lacks a majority): off the io thread, whose other
    // connections would wait with it.
    const uint64_t id = f.header.request_id;
    run_admin(
        open_slot(), id,
        [context = context_, config = std::move(*config), id]() -> result<std::string> {
            auto info = context->engine.create_topic(config);
            if (!info) return std::move(info).err();
            std::string bytes;
            protocol::encode(
                bytes, id,
                topic_detail_of(*info, leaders_of(*context, *info, context->engine.layout())));
            return bytes;
        },
        [](native_session&) {});
}

void native_session::delete_topic(const protocol::frame& f) {
    auto m = protocol::decode_topic_name(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    const uint64_t id = f.header.request_id;
    run_admin(
        open_slot(), id,
        [context = context_, name = m->name, id]() -> result<std::string> {
            ES_TRY(context->engine.delete_topic(name));
            std::string bytes;
            protocol::encode_ok(bytes, id);
            return bytes;
        },
        [name = m->name](native_session& self) {
            self.topics_.erase(name);
            self.end_deleted_subscriptions();
        });
}

std::vector<uint32_t> native_session::leaders_of(
    const native_context& context, const core::topic_info& info,
    const std::optional<core::cluster_layout>& layout) {
    return core::partition_leaders(info, layout, context.options.node_id);
}

void native_session::list_topics(const protocol::frame& f) {
    auto empty = protocol::decode_empty(f.body);
    if (!empty) return protocol_error(f.header.request_id, empty.err());
    protocol::topic_list list;
    const auto layout = context_->engine.layout();
    for (const core::topic_info& info : context_->engine.list_topics()) {
        list.topics.push_back(topic_detail_of(info, leaders_of(*context_, info, layout)));
    }
    std::string bytes;
    protocol::encode(bytes, f.header.request_id, list);
    reply(std::move(bytes));
}

void native_session::describe_topic(const protocol::frame& f) {
    auto m = protocol::decode_topic_name(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto info = context_->engine.describe_topic(m->name);
    if (!info) return reply_error(f.header.request_id, info.err());
    std::string bytes;
    protocol::encode(
        bytes, f.header.request_id,
        topic_detail_of(*info, leaders_of(*context_, *info, context_->engine.layout())));
    reply(std::move(bytes));
}

void native_session::metadata(const protocol::frame& f) {
    auto m = protocol::decode_metadata_request(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    protocol::metadata_reply r;
    const auto layout = context_->engine.layout();
    if (layout) {
        for (const auto& n : layout->nodes) r.nodes.push_back({n.id, n.host, n.native_port});
    } else {
        r.nodes.push_back({context_->options.node_id, context_->options.host, context_->port});
    }
    auto add = [&](const core::topic_info& info) {
        protocol::topic_leaders t;
        t.name = info.config.name;
        t.leader_by_partition = leaders_of(*context_, info, layout);
        r.topics.push_back(std::move(t));
    };
    if (m->topics.empty()) {
        for (const core::topic_info& info : context_->engine.list_topics()) add(info);
    } else {
        for (const std::string& name : m->topics) {
            auto info = context_->engine.describe_topic(name);
            if (!info) return reply_error(f.header.request_id, info.err());
            add(*info);
        }
    }
    std::string bytes;
    protocol::encode(bytes, f.header.request_id, r);
    reply(std::move(bytes));
}

void native_session::publish(const protocol::frame& f, bool received) {
    auto m = protocol::decode_publish(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    const uint64_t id = f.header.request_id;
    if (m->events.empty()) {
        return reply_error(id, make_error(errc::invalid_argument, "events: at least one event"));
    }
    if (m->producer_id != 0 && !m->partition) {
        return reply_error(id, make_error(errc::invalid_argument,
                                          "partition: an idempotent producer (producer_id "
                                          "!= 0) must name the partition"));
    }
    auto topic = find_topic(m->topic);
    if (!topic) return reply_error(id, topic.err());
    make_publish_views(*m, views_);
    core::publish_options options;
    options.on_full = core::backpressure::fail;
    options.partition = m->partition;
    options.producer_id = m->producer_id;
    options.first_sequence = m->first_sequence;
    const size_t events = views_.events.size();
    if (m->acks == protocol::acks_level::none) {
        auto r = context_->engine.publish(*topic, views_.events, options);
        if (!r && r.err().code == errc::queue_full && hold_publish(f)) return;
        if (!r) return reply_error(id, r.err());
        context_->metrics.events_published->inc(r->events_queued);
        if (r->events_refused > 0) {
            reply_error(
                id, make_error(errc::queue_full,
                               std::to_string(r->events_refused) + " of " + std::to_string(events) +
                                   " events were refused (queue full); the others were "
                                   "appended"));
        }
        return;
    }
    // A large PUBLISH lends the engine its events where they were received: the workers encode
    // them straight into the partitions, and the frame's storage (and the headers' views) stay
    // until the answer, which comes once every batch has completed.
    struct lent {
        protocol::frame_keeper frame;
        std::vector<core::header_in> headers;
    };
    std::shared_ptr<lent> lender;
    const void* storage = nullptr;
    // Only when the events are large enough for the engine to take them lent (their views,
    // 64 bytes each, no larger than their records, which the frame's size stands for).
    if (received && f.body.size() >= k_native_lend_min_bytes &&
        views_.events.size() * sizeof(core::event_in) <= f.body.size()) {
        storage = reader_.storage();
        const auto held = lent_storage_.find(storage);
        if (held == lent_storage_.end() &&
            lent_storage_bytes_ + reader_.storage_bytes() > k_native_lent_storage_bytes_max) {
            storage = nullptr;  // copied: this connection has enough storage kept already
        }
    }
    if (storage != nullptr) {
        lender = std::make_shared<lent>();
        lender->frame = reader_.keep();
        lender->headers = std::move(views_.headers);  // the events' spans still point into it
        views_.headers.clear();
        options.borrowed = true;
    }
    const uint64_t seq = open_slot();
    std::weak_ptr<native_session> weak = weak_from_this();
    native_metrics& metrics = context_->metrics;
    auto refused =
        publish_with_ack(context_->engine, *topic, views_.events, options, id, capabilities_,
                         [weak, &inbox = inbox_, seq, events, &metrics, storage,
                          lender = std::move(lender)](std::string frame, bool acked) {
                             // On a worker thread, or here: hand the answer to the connection's
                             // thread, with the others that come meanwhile. What was lent goes with
                             // this function, once every batch has completed.
                             if (acked) {
                                 metrics.events_published->inc(events);
                                 if (lender) metrics.publishes_lent->inc();
                             }
                             inbox.post([weak, seq, storage, frame = std::move(frame)]() mutable {
                                 auto self = weak.lock();
                                 if (!self) return;
                                 if (storage != nullptr) self->end_lent(storage);
                                 self->fill(seq, std::move(frame));
                                 self->progress();
                             });
                         });
    if (!refused) {
        if (storage != nullptr) {
            lent_storage& s = lent_storage_[storage];
            if (s.frames++ == 0) {
                s.bytes = reader_.storage_bytes();
                lent_storage_bytes_ += s.bytes;
            }
        }
        return;
    }
    slots_.pop_back();  // its slot, opened above: nothing will answer it
    if (!hold_publish(f)) reply_error(id, *refused);
}

void native_session::end_lent(const void* storage) {
    const auto it = lent_storage_.find(storage);
    ES_ASSERT(it != lent_storage_.end() && it->second.frames > 0);
    if (--it->second.frames > 0) return;
    lent_storage_bytes_ -= it->second.bytes;
    lent_storage_.erase(it);
}

bool native_session::hold_publish(const protocol::frame& f) {
    const auto now = clock::now();
    if (!held_) {
        held_.emplace();
        held_->header = f.header;
        held_->body.assign(f.body);
        held_->give_up_at = now + k_native_publish_wait_max;
        held_->wait = k_native_publish_retry_first;
    } else if (now >= held_->give_up_at) {
        held_.reset();
        return false;
    } else {
        held_->wait = std::min(2 * held_->wait, k_native_publish_retry_most);
    }
    held_->armed = true;
    held_timer_.expires_after(held_->wait);
    held_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        self->retry_held_publish(ec);
    });
    return true;
}

void native_session::retry_held_publish(const boost::system::error_code& ec) {
    if (ec || !held_) return;
    if (state_ != state::open) {
        held_.reset();  // closing: nothing of it was accepted
        return;
    }
    held_->armed = false;
    publish(protocol::frame{held_->header, held_->body}, false);  // may hold it again (armed)
    if (held_ && !held_->armed) held_.reset();
    progress();  // the requests behind it, and reading
}

void native_session::subscribe(const protocol::frame& f) {
    auto m = protocol::decode_subscribe(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    const uint64_t id = f.header.request_id;
    if (subscriptions_.size() >= k_native_subscriptions_max) {
        return reply_error(
            id, make_error(errc::too_large, "subscriptions: at most " +
                                                std::to_string(k_native_subscriptions_max) +
                                                " per connection"));
    }
    auto topic = find_topic(m->topic);
    if (!topic) return reply_error(id, topic.err());
    const uint64_t sid = next_subscription_id_++;
    std::weak_ptr<native_session> weak = weak_from_this();
    auto sink = std::make_shared<native_subscription>(sid, id, m->credit_events, m->credit_bytes,
                                                      [weak, &inbox = inbox_] {
                                                          inbox.post([weak] {
                                                              if (auto self = weak.lock())
                                                                  self->progress();
                                                          });
                                                      });
    auto engine_id =
        context_->engine.subscribe(*topic, m->partitions, start_position_of(*m), sink, m->group);
    if (!engine_id) return reply_error(id, engine_id.err());
    subscriptions_.emplace(sid, subscription_entry{sink, *topic, *engine_id, id});
    protocol::subscribed s;
    s.subscription_id = sid;
    if (m->partitions.empty()) {
        for (uint32_t p = 0; p < (*topic)->config.partitions; ++p) s.partitions.push_back(p);
    } else {
        s.partitions = m->partitions;
    }
    std::string bytes;
    protocol::encode(bytes, id, s);
    reply(std::move(bytes), sid);
}

void native_session::credit(const protocol::frame& f) {
    auto m = protocol::decode_credit(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto it = subscriptions_.find(m->subscription_id);
    if (it == subscriptions_.end()) {
        // Not a protocol error: the subscription may have just ended (topic deleted).
        return reply_error(f.header.request_id,
                           make_error(errc::not_found, "subscription_id: no subscription " +
                                                           std::to_string(m->subscription_id) +
                                                           " on this connection"));
    }
    auto granted = it->second.sink->grant(m->events, m->bytes);
    if (!granted) return protocol_error(f.header.request_id, granted.err());
}

void native_session::unsubscribe(const protocol::frame& f) {
    auto m = protocol::decode_unsubscribe(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto it = subscriptions_.find(m->subscription_id);
    if (it == subscriptions_.end()) {
        return reply_error(f.header.request_id,
                           make_error(errc::not_found, "subscription_id: no subscription " +
                                                           std::to_string(m->subscription_id) +
                                                           " on this connection"));
    }
    (void)context_->engine.unsubscribe(it->second.engine_id);
    subscriptions_.erase(it);
    std::string bytes;
    protocol::encode_ok(bytes, f.header.request_id);
    reply(std::move(bytes));
}

void native_session::commit_offset(const protocol::frame& f) {
    auto m = protocol::decode_commit_offset(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto topic = find_topic(m->topic);
    if (!topic) return reply_error(f.header.request_id, topic.err());
    // In a cluster the offset goes through the partition's Raft log: answered when it is
    // committed, in its place among the other answers, without holding up this connection.
    const uint64_t seq = open_slot();
    const uint64_t id = f.header.request_id;
    std::weak_ptr<native_session> weak = weak_from_this();
    auto executor = socket_.get_executor();
    context_->engine.commit_offset_async(
        *topic, m->group, m->partition, m->offset, [weak, executor, seq, id](status s) {
            std::string bytes;
            if (s) {
                protocol::encode_ok(bytes, id);
            } else {
                encode_error(bytes, id, s.err());
            }
            asio::post(executor, [weak, seq, refused = !s, bytes = std::move(bytes)]() mutable {
                auto self = weak.lock();
                if (!self) return;
                if (refused) self->context_->metrics.error(native_error_kind::refused).inc();
                self->fill(seq, std::move(bytes));
                self->progress();
            });
        });
}

void native_session::fetch_offset(const protocol::frame& f) {
    auto m = protocol::decode_fetch_offset(f.body);
    if (!m) return protocol_error(f.header.request_id, m.err());
    auto topic = find_topic(m->topic);
    if (!topic) return reply_error(f.header.request_id, topic.err());
    auto o = context_->engine.committed_offset(*topic, m->group, m->partition);
    if (!o) return reply_error(f.header.request_id, o.err());
    std::string bytes;
    protocol::encode(bytes, f.header.request_id, protocol::offset_reply{*o});
    reply(std::move(bytes));
}

void native_session::send_ended(uint64_t id, const subscription_entry& s) {
    std::string bytes;
    protocol::encode(
        bytes, s.request_id,
        protocol::subscription_ended{id, static_cast<uint16_t>(errc::not_found),
                                     "topic " + s.topic->config.name + " was deleted"});
    enqueue(std::move(bytes));
}

void native_session::end_deleted_subscriptions() {
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
        if (!it->second.ended && !it->second.topic->deleted.load(std::memory_order_acquire)) {
            ++it;
            continue;
        }
        if (it->second.ended) {
            ++it;
            continue;
        }
        (void)context_->engine.unsubscribe(it->second.engine_id);
        it->second.ended = true;
        if (!it->second.announced) {
            ++it;  // SUBSCRIPTION_ENDED follows its SUBSCRIBED (flush_replies)
            continue;
        }
        send_ended(it->first, it->second);
        it = subscriptions_.erase(it);
    }
}

}  // namespace es::server
