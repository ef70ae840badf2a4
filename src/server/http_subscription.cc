// Long-poll subscriptions: waiting polls, wake-ups from the workers, group commits.
#include "server/http_subscription.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "server/rest_limits.h"

namespace es::server {
namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

http_subscription::http_subscription(asio::io_context& io, core::engine& engine,
                                     core::topic_ptr topic, std::string group,
                                     std::shared_ptr<const topic_edge_metrics> metrics)
    : engine_(engine),
      topic_(std::move(topic)),
      group_(std::move(group)),
      metrics_(std::move(metrics)),
      strand_(asio::make_strand(io)),
      timer_(strand_) {
    touch();
}

http_subscription::~http_subscription() = default;

result<std::shared_ptr<http_subscription>> http_subscription::open(
    asio::io_context& io, core::engine& engine, core::topic_ptr topic, std::string group,
    core::start_position start, std::vector<uint32_t> partitions,
    std::shared_ptr<const topic_edge_metrics> metrics) {
    std::shared_ptr<http_subscription> s(
        new http_subscription(io, engine, topic, std::move(group), std::move(metrics)));
    core::feed_options feed_options;
    feed_options.max_buffered_events = k_subscription_buffered_events_max;
    feed_options.max_buffered_bytes = k_subscription_buffered_bytes_max;
    std::weak_ptr<http_subscription> weak = s;
    auto strand = s->strand_;
    s->sink_ =
        std::make_shared<notifying_feed>(topic->config.partitions, feed_options, [weak, strand] {
            asio::post(strand, [weak] {
                if (auto self = weak.lock()) self->on_wake();
            });
        });
    auto id = engine.subscribe(topic, partitions, start, s->sink_, s->group_);
    if (!id) return std::move(id).err();
    s->engine_id_ = *id;
    return s;
}

void http_subscription::touch() {
    last_used_ms_.store(now_ms(), std::memory_order_relaxed);
}

int64_t http_subscription::idle_ms() const {
    if (waiting_.load(std::memory_order_relaxed)) return 0;
    return now_ms() - last_used_ms_.load(std::memory_order_relaxed);
}

void http_subscription::poll(uint32_t max_events, uint32_t wait_ms, payload_form form,
                             http_responder respond) {
    touch();
    asio::post(strand_, [self = shared_from_this(), max_events, wait_ms, form,
                         respond = std::move(respond)]() mutable {
        self->start_poll(max_events, wait_ms, form, std::move(respond));
    });
}

void http_subscription::start_poll(uint32_t max_events, uint32_t wait_ms, payload_form form,
                                   http_responder respond) {
    if (ended_) {
        respond(json_error(404, "not_found", "the subscription has ended"));
        return;
    }
    if (waiter_) {
        respond(json_error(409, "conflict",
                           "another poll of this subscription is waiting; poll one at a time"));
        return;
    }
    commit_delivered();
    sink_->arm();
    auto events = nlohmann::json::array();
    auto gaps = nlohmann::json::array();
    if (take(max_events, form, events, gaps) || wait_ms == 0) {
        sink_->disarm();
        touch();
        respond(json_ok(dump_json({{"events", std::move(events)}, {"gaps", std::move(gaps)}})));
        return;
    }
    waiter_ = waiter{max_events, form, std::move(respond)};
    waiting_.store(true, std::memory_order_relaxed);
    timer_.expires_after(std::chrono::milliseconds(wait_ms));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->on_timer();
    });
}

bool http_subscription::take(uint32_t max_events, payload_form form, nlohmann::json& events,
                             nlohmann::json& gaps) {
    const auto& topic = topic_->config.name;
    size_t gap_count = 0;
    const size_t n = sink_->feed().poll(
        [&](const core::event_view& v, uint32_t partition) {
            events.push_back(event_json(topic, partition, v, form));
            delivered_[partition] = v.offset + 1;
        },
        [&](uint32_t partition, uint64_t first, uint64_t last) {
            gaps.push_back({{"partition", partition}, {"first", first}, {"last", last}});
            delivered_[partition] = last + 1;
            ++gap_count;
        },
        max_events);
    if (n > 0) metrics_->events_delivered->inc(n);
    return n > 0 || gap_count > 0;
}

void http_subscription::on_wake() {
    if (!waiter_) return;
    auto events = nlohmann::json::array();
    auto gaps = nlohmann::json::array();
    sink_->arm();
    if (!take(waiter_->max_events, waiter_->form, events, gaps)) return;  // stays armed
    sink_->disarm();
    timer_.cancel();
    answer(std::move(events), std::move(gaps));
}

void http_subscription::on_timer() {
    if (!waiter_) return;
    sink_->disarm();
    auto events = nlohmann::json::array();
    auto gaps = nlohmann::json::array();
    take(waiter_->max_events, waiter_->form, events, gaps);
    answer(std::move(events), std::move(gaps));
}

void http_subscription::answer(nlohmann::json events, nlohmann::json gaps) {
    auto w = std::move(*waiter_);
    waiter_.reset();
    waiting_.store(false, std::memory_order_relaxed);
    touch();
    w.respond(json_ok(dump_json({{"events", std::move(events)}, {"gaps", std::move(gaps)}})));
}

void http_subscription::commit_delivered() {
    if (group_.empty() || delivered_.empty()) return;
    // Without waiting: in a cluster each commit is a Raft round trip (up to 10 s), and this
    // strand's thread serves other connections. A failure is only logged.
    for (const auto& [partition, next] : delivered_) {
        engine_.commit_offset_async(
            topic_, group_, partition, next,
            [topic = topic_, group = group_, id = engine_id_, partition = partition,
             next = next](status s) {
                if (s) return;
                spdlog::warn(
                    "http: subscription {}: commit of {} partition {} offset {} for group {} "
                    "failed: {}",
                    id, topic->config.name, partition, next, group, s.err().message);
            });
    }
    delivered_.clear();
}

void http_subscription::end() {
    if (ended_flag_.exchange(true)) return;
    (void)engine_.unsubscribe(engine_id_);
    // Commit and answer a waiting poll on the strand, where that state lives.
    asio::post(strand_, [self = shared_from_this()] {
        self->ended_ = true;
        self->commit_delivered();
        self->timer_.cancel();
        if (self->waiter_) {
            auto w = std::move(*self->waiter_);
            self->waiter_.reset();
            self->waiting_.store(false, std::memory_order_relaxed);
            w.respond(json_error(404, "not_found", "the subscription has ended"));
        }
    });
}

}  // namespace es::server
