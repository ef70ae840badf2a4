// feed: per-partition chunk rings between the workers and one polling consumer.
#include "core/feed.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"

namespace es::core {

feed::feed(uint32_t partition_count, feed_options options) : options_(options) {
    ES_ASSERT(partition_count > 0);
    lanes_.reserve(partition_count);
    for (uint32_t p = 0; p < partition_count; ++p) {
        lanes_.push_back(
            std::make_unique<lane>(std::max<uint32_t>(options_.max_buffered_chunks, 2)));
    }
}

feed::~feed() = default;

size_t feed::buffered_events_approx() const noexcept {
    size_t n = 0;
    for (const auto& l : lanes_) n += l->outstanding_events.load(std::memory_order_relaxed);
    return n;
}

delivery_credit feed::credit(uint32_t partition) {
    lane& l = *lanes_.at(partition);
    // One slot stays free for a gap notice, which needs no credit but needs a slot.
    if (l.ring.size_approx() + 2 > l.ring.capacity()) return {};
    const uint64_t events = l.outstanding_events.load(std::memory_order_acquire);
    const uint64_t bytes = l.outstanding_bytes.load(std::memory_order_acquire);
    delivery_credit c;
    c.events = events >= options_.max_buffered_events
                   ? 0
                   : static_cast<uint32_t>(options_.max_buffered_events - events);
    c.bytes = bytes >= options_.max_buffered_bytes ? 0 : options_.max_buffered_bytes - bytes;
    // An empty lane takes the next delivery whatever its size, so that one event larger than
    // max_buffered_bytes cannot stall the subscription (the worker still caps a delivery at
    // deliver_bytes_max, or one event).
    if (events == 0 && bytes == 0) c.bytes = UINT64_MAX;
    if (c.bytes == 0) c.events = 0;
    return c;
}

void feed::on_events(uint32_t partition, const record_run& events) {
    lane& l = *lanes_.at(partition);
    chunk c;
    c.records = std::make_unique_for_overwrite<std::byte[]>(events.bytes);
    std::memcpy(c.records.get(), events.data, events.bytes);
    c.bytes = events.bytes;
    c.count = events.count;
    l.outstanding_events.fetch_add(c.count, std::memory_order_relaxed);
    l.outstanding_bytes.fetch_add(c.bytes, std::memory_order_relaxed);
    // credit() kept a slot free, so this cannot fail while the worker respects credit.
    const bool pushed = l.ring.try_push(std::move(c));
    ES_ASSERT_MSG(pushed, "feed delivery beyond credit");
}

void feed::on_gap(uint32_t partition, uint64_t first, uint64_t last) {
    lane& l = *lanes_.at(partition);
    chunk c;
    c.gap_first = first;
    c.gap_last = last;
    // The worker sends a gap only after credit() said yes, which keeps two slots free.
    const bool pushed = l.ring.try_push(std::move(c));
    ES_ASSERT_MSG(pushed, "feed gap beyond credit");
}

}  // namespace es::core
