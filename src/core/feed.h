// feed: a subscription sink that buffers delivered events, per partition, for a consumer
// thread to poll. Its buffers are bounded by events and by bytes; that bound is the credit the
// worker sees, so a consumer that stops polling stops delivery instead of growing memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/cache.h"
#include "core/spsc_queue.h"
#include "core/subscription.h"

namespace es::core {

struct feed_options {
    // Per partition: events and record bytes delivered but not yet polled.
    uint32_t max_buffered_events = 16384;
    uint64_t max_buffered_bytes = 8 << 20;
    // Per partition: capacity of the chunk ring (a chunk is one delivery: 1..n events or a gap).
    uint32_t max_buffered_chunks = 1024;
};

class feed final : public subscription_sink {
  public:
    // partition_count: the topic's partitions (lanes are made for every one, used or not).
    explicit feed(uint32_t partition_count, feed_options options = {});
    ~feed() override;

    // Consumer thread (one at a time). Hands up to max_events events, in offset order per
    // partition, to on_event(const event_view&, uint32_t partition), and each gap to
    // on_gap(uint32_t partition, uint64_t first, uint64_t last). Returns events handed over.
    // The views are valid during the callback only.
    template <class OnEvent, class OnGap>
    size_t poll(OnEvent&& on_event, OnGap&& on_gap, size_t max_events = SIZE_MAX);

    // Any thread; a guess.
    size_t buffered_events_approx() const noexcept;

    // subscription_sink, called by the workers.
    delivery_credit credit(uint32_t partition) override;
    void on_events(uint32_t partition, const record_run& events) override;
    void on_gap(uint32_t partition, uint64_t first, uint64_t last) override;

  private:
    struct chunk {
        std::unique_ptr<std::byte[]> records;  // null for a gap
        uint64_t bytes = 0;
        uint32_t count = 0;
        uint64_t gap_first = 0;
        uint64_t gap_last = 0;
    };
    struct alignas(false_sharing_bytes) lane {
        explicit lane(size_t chunks) : ring(chunks) {}
        spsc_queue<chunk> ring;  // worker pushes, consumer pops
        // Delivered and not yet polled. The worker adds (relaxed: it is the only writer of the
        // additions and reads its own writes); the consumer subtracts after it is done with a
        // chunk (release), and the worker reads with acquire before it reuses the credit.
        std::atomic<uint64_t> outstanding_events{0};
        std::atomic<uint64_t> outstanding_bytes{0};
        // Consumer's progress inside the front chunk.
        uint32_t consumed_in_front = 0;
        uint64_t consumed_bytes_in_front = 0;
    };

    const feed_options options_;
    std::vector<std::unique_ptr<lane>> lanes_;  // constant after construction
    uint32_t next_lane_ = 0;                    // consumer thread only
};

template <class OnEvent, class OnGap>
size_t feed::poll(OnEvent&& on_event, OnGap&& on_gap, size_t max_events) {
    size_t handed = 0;
    const auto lanes = static_cast<uint32_t>(lanes_.size());
    for (uint32_t i = 0; i < lanes && handed < max_events; ++i) {
        const uint32_t p = (next_lane_ + i) % lanes;
        lane& l = *lanes_[p];
        while (handed < max_events) {
            chunk* c = l.ring.front();
            if (!c) break;
            if (!c->records) {
                on_gap(p, c->gap_first, c->gap_last);
                chunk done;
                (void)l.ring.try_pop(done);
                continue;
            }
            const std::byte* r = c->records.get() + l.consumed_bytes_in_front;
            while (l.consumed_in_front < c->count && handed < max_events) {
                const event_view v = event_view::of(r);
                on_event(v, p);
                r += v.record.size();
                l.consumed_bytes_in_front += v.record.size();
                ++l.consumed_in_front;
                ++handed;
            }
            if (l.consumed_in_front < c->count) break;
            l.outstanding_events.fetch_sub(c->count, std::memory_order_release);
            l.outstanding_bytes.fetch_sub(c->bytes, std::memory_order_release);
            l.consumed_in_front = 0;
            l.consumed_bytes_in_front = 0;
            chunk done;
            (void)l.ring.try_pop(done);
        }
    }
    next_lane_ = lanes ? (next_lane_ + 1) % lanes : 0;
    return handed;
}

}  // namespace es::core
