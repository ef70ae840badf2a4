// An in-memory partition: an ordered log of recent events held in segments of encoded records,
// with offsets assigned on append and retention by bytes and by age. Memory: at most
// retention_bytes of events plus two segments (the one being written and a spare). Owned by one
// worker thread; other threads read only the published counters (start, end, bytes).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "core/batch.h"
#include "core/event.h"
#include "core/producer_state.h"
#include "core/topic.h"

namespace es::core {

struct cursor;
struct durable_partition;
class segment_pool;

class memory_partition {
  public:
    // Segment size: retention_bytes / segments_per_retention, clamped to
    // [min_segment_bytes, max_segment_bytes] and never below one event of max_event_bytes.
    static constexpr size_t segments_per_retention = 8;
    static constexpr size_t min_segment_bytes = 64 * 1024;
    static constexpr size_t max_segment_bytes = 8 << 20;

    // Segments of max_segment_bytes come from `pool` and go back to it when freed (null: each
    // is allocated and freed on its own).
    memory_partition(uint32_t index, const topic_config& config,
                     std::shared_ptr<segment_pool> pool = nullptr);
    ~memory_partition();
    memory_partition(const memory_partition&) = delete;
    memory_partition& operator=(const memory_partition&) = delete;

    uint32_t index() const noexcept { return index_; }

    // Owning worker thread (or before the partition is handed to one). Makes an empty log
    // begin at `offset`: a durable partition restored from disk continues its offsets.
    // REQUIRES: nothing appended yet.
    void start_at(uint64_t offset);
    // Owning worker thread. Drops every event held and makes the log begin at `offset`: a
    // replicated partition whose node becomes its leader continues from what is committed,
    // and whatever its ring held beyond that (never delivered: it was not committed) goes.
    void reset_to(uint64_t offset);

    // Owning worker thread. Appends every record of the run with consecutive offsets starting
    // at end_offset(), stamping now_ns on records whose timestamp is 0, then applies byte
    // retention. Returns the first offset. REQUIRES: run.count > 0, and the run holds
    // well-formed records (encoded by encode_record).
    uint64_t append(const record_run& run, int64_t now_ns);
    // The same for events not yet encoded: each is encoded straight into the segment.
    // REQUIRES: !events.empty(), and each event passed validate_event.
    uint64_t append(std::span<const event_in> events, int64_t now_ns);

    // Owning worker thread. The records from offset `from` on, as one contiguous run within a
    // segment: at most max_events of them and at most max_bytes, but at least one when any is
    // there (even if it is larger than max_bytes). Empty at the end of the log. Valid until
    // the next append or trim. REQUIRES: start_offset() <= from <= end_offset().
    record_run read(uint64_t from, uint32_t max_events, size_t max_bytes) const;

    // Owning worker thread. The first offset whose event has timestamp >= ts, scanning from the
    // start; end_offset() when none does.
    uint64_t offset_for_timestamp(int64_t ts_ns) const;

    // Owning worker thread, in idle time. Once the segment being written is half full, makes
    // the next one ready: allocates it and maps up to budget_bytes more of its pages, so that
    // appends do not stall on page faults. Returns false when there is nothing to do.
    bool prepare_spare(size_t budget_bytes);

    // Owning worker thread. Drops events older than now_ns - retention_ms from the start of the
    // log (stopping at the first younger one). Does nothing when retention_ms is 0.
    void trim_by_age(int64_t now_ns);

    // Owning worker thread.
    uint64_t start_offset() const noexcept { return start_offset_; }
    uint64_t end_offset() const noexcept { return end_offset_; }
    size_t stored_bytes() const noexcept { return stored_bytes_; }
    size_t segment_bytes() const noexcept { return segment_bytes_; }

    // Any thread: the same counters as last published by the owner (relaxed; a recent value).
    uint64_t start_offset_approx() const noexcept {
        return pub_start_.load(std::memory_order_relaxed);
    }
    uint64_t end_offset_approx() const noexcept { return pub_end_.load(std::memory_order_relaxed); }
    uint64_t stored_bytes_approx() const noexcept {
        return pub_bytes_.load(std::memory_order_relaxed);
    }

    // Owning worker thread: the cursors reading this partition, and whether it is on the
    // worker's list of partitions to deliver from after the current pass.
    std::vector<cursor*> cursors;
    bool has_new_events = false;
    // Set for a partition of a durable topic (the topic owns it): this ring is then a cache
    // in front of the disk, and only events up to durable->visible_end are delivered.
    durable_partition* durable = nullptr;
    // Idempotent producers that published to this partition.
    producer_table producers;

  private:
    struct segment;

    void drop_oldest_segment();
    void publish_counters() noexcept;
    segment& segment_for_append(size_t record_bytes);
    // Appends one record of `size` bytes that write(dst) puts at dst (an encoded record
    // whose offset and, if 0, timestamp are then set).
    template <class Write>
    void append_record(size_t size, int64_t now_ns, Write&& write);
    // After the records of one append: byte retention, and the counters published.
    void finish_append();
    using segment_iterator = std::deque<std::unique_ptr<segment>>::const_iterator;
    // REQUIRES: start_offset() <= offset < end_offset().
    segment_iterator find_segment(uint64_t offset) const;

    // Constant after construction.
    const uint32_t index_;
    const uint64_t retention_bytes_;
    const int64_t retention_ns_;
    const size_t segment_bytes_;
    const std::shared_ptr<segment_pool> pool_;  // null unless segment_bytes_ is the pool's size

    // Owning worker thread only.
    std::deque<std::unique_ptr<segment>> segments_;
    std::unique_ptr<segment> spare_;  // the next segment to write, made ready ahead of time
    uint64_t start_offset_ = 0;
    uint64_t end_offset_ = 0;
    size_t stored_bytes_ = 0;  // record bytes in segments_, including those before start_offset_

    // Written by the owner after each change, read by any thread.
    std::atomic<uint64_t> pub_start_{0};
    std::atomic<uint64_t> pub_end_{0};
    std::atomic<uint64_t> pub_bytes_{0};
};

}  // namespace es::core
