// A core::feed that also wakes its consumer: the HTTP long poll and the WebSocket stream wait
// for events without polling, by arming the feed and being called back when a worker delivers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

#include "core/feed.h"

namespace es::server {

class notifying_feed final : public core::subscription_sink {
  public:
    // `wake` is called on a worker thread, at most once per arm(), after events or a gap were
    // delivered. It must not block: it posts to the consumer's strand.
    notifying_feed(uint32_t partition_count, core::feed_options options, std::function<void()> wake)
        : feed_(partition_count, options), wake_(std::move(wake)) {}

    // Consumer: ask to be woken by the next delivery. Arm before polling, so that a delivery
    // between a poll that found nothing and the arm is not missed (a wake may then come for
    // events already polled; the consumer just finds nothing).
    void arm() noexcept { armed_.store(true, std::memory_order_seq_cst); }
    void disarm() noexcept { armed_.store(false, std::memory_order_relaxed); }

    // The consumer's side of the feed (one consumer at a time).
    core::feed& feed() noexcept { return feed_; }

    core::delivery_credit credit(uint32_t partition) override { return feed_.credit(partition); }
    void on_events(uint32_t partition, const core::record_run& events) override {
        feed_.on_events(partition, events);
        notify();
    }
    void on_gap(uint32_t partition, uint64_t first, uint64_t last) override {
        feed_.on_gap(partition, first, last);
        notify();
    }

  private:
    void notify() {
        if (armed_.load(std::memory_order_seq_cst) &&
            armed_.exchange(false, std::memory_order_seq_cst)) {
            wake_();
        }
    }

    core::feed feed_;
    const std::function<void()> wake_;
    std::atomic<bool> armed_{false};
};

}  // namespace es::server
