// One long-poll subscription of the REST API (POST /v1/topics/subscribe): an engine
// subscription into a bounded notifying_feed, polled by GET /v1/subscriptions/{id}/events.
// A poll that finds nothing waits, up to wait_ms, for the feed to wake it. With a consumer
// group, the events a poll returned are committed when the next poll arrives or the
// subscription is deleted (at least once: a client that dies mid-batch sees it again).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/engine.h"
#include "server/accept_loop.h"
#include "server/event_json.h"
#include "server/http_router.h"
#include "server/notifying_feed.h"
#include "server/rest_metrics.h"

namespace es::server {

class http_subscription : public std::enable_shared_from_this<http_subscription> {
  public:
    // Subscribes in the engine. Errors: the engine's (not_found, too_large, invalid_argument).
    // Any io thread.
    static result<std::shared_ptr<http_subscription>> open(
        asio::io_context& io, core::engine& engine, core::topic_ptr topic, std::string group,
        core::start_position start, std::vector<uint32_t> partitions,
        std::shared_ptr<const topic_edge_metrics> metrics);
    ~http_subscription();

    // Answers through `respond` with {"events": [...], "gaps": [...]}: at once when events are
    // buffered or wait_ms is 0, else when events arrive or wait_ms passes (then maybe empty).
    // A second poll while one waits gets 409. Any thread.
    void poll(uint32_t max_events, uint32_t wait_ms, payload_form form, http_responder respond);

    // Commits what was returned, unsubscribes and answers a waiting poll with 404. Idempotent.
    // Any thread but a worker.
    void end();

    // Milliseconds since the last poll began or ended (steady clock); 0 while a poll waits.
    int64_t idle_ms() const;

    const std::string& topic_name() const { return topic_->config.name; }
    const std::string& group() const { return group_; }
    uint64_t engine_id() const { return engine_id_; }

  private:
    http_subscription(asio::io_context& io, core::engine& engine, core::topic_ptr topic,
                      std::string group, std::shared_ptr<const topic_edge_metrics> metrics);

    // On strand_.
    void start_poll(uint32_t max_events, uint32_t wait_ms, payload_form form,
                    http_responder respond);
    void on_wake();
    void on_timer();
    // Takes up to max events from the feed; true when it took events or gaps.
    bool take(uint32_t max_events, payload_form form, nlohmann::json& events, nlohmann::json& gaps);
    void answer(nlohmann::json events, nlohmann::json gaps);
    void commit_delivered();
    void touch();

    struct waiter {
        uint32_t max_events;
        payload_form form;
        http_responder respond;
    };

    // Constant after open().
    core::engine& engine_;
    const core::topic_ptr topic_;
    const std::string group_;
    const std::shared_ptr<const topic_edge_metrics> metrics_;
    std::shared_ptr<notifying_feed> sink_;
    uint64_t engine_id_ = 0;

    asio::strand<asio::io_context::executor_type> strand_;
    // Touched on strand_ only.
    asio::steady_timer timer_;
    std::optional<waiter> waiter_;
    std::map<uint32_t, uint64_t> delivered_;  // partition -> next offset, not yet committed
    bool ended_ = false;

    std::atomic<bool> ended_flag_{false};  // any thread: end() ran
    std::atomic<bool> waiting_{false};
    std::atomic<int64_t> last_used_ms_{0};
};

}  // namespace es::server
