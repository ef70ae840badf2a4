// Segmented in-memory log.
#include "core/memory_partition.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "core/batch.h"
#include "core/segment_pool.h"

namespace es::core {

// A run of records with consecutive offsets, stored back to back.
struct memory_partition::segment {
    // The bytes are not zeroed: every byte is written by an append before it is read.
    segment(size_t capacity, const std::shared_ptr<segment_pool>& pool)
        : capacity(capacity),
          pool(pool),
          data(pool ? pool->take(&mapped) : std::make_unique_for_overwrite<std::byte[]>(capacity)) {
        positions.reserve(capacity / 64);
    }
    ~segment() {
        if (pool) pool->give(std::move(data), mapped_bytes());
    }
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    void reset(uint64_t base) {
        mapped = mapped_bytes();
        base_offset = base;
        used = 0;
        max_timestamp = INT64_MIN;
        positions.clear();
    }
    uint64_t end_offset() const noexcept { return base_offset + positions.size(); }
    // Bytes of data, from the start, whose pages are mapped: written or touched.
    size_t mapped_bytes() const noexcept { return std::max(mapped, used); }
    const std::byte* record(uint64_t offset) const noexcept {
        return data.get() + positions[offset - base_offset];
    }

    const size_t capacity;
    const std::shared_ptr<segment_pool> pool;  // where data came from and goes back to, if any
    // Mapped beyond `used`: what a buffer from the pool came with, or prepare_spare() touched.
    size_t mapped = 0;
    std::unique_ptr<std::byte[]> data;
    std::vector<uint32_t> positions;  // byte position of each record, by offset - base_offset
    uint64_t base_offset = 0;
    size_t used = 0;
    int64_t max_timestamp = INT64_MIN;  // largest event timestamp in the segment
};

namespace {

size_t choose_segment_bytes(const topic_config& c) {
    size_t s = c.retention_bytes / memory_partition::segments_per_retention;
    s = std::clamp(s, memory_partition::min_segment_bytes, memory_partition::max_segment_bytes);
    return std::max(s, record_size(0, c.max_event_bytes, max_headers_bytes));
}

}  // namespace

memory_partition::memory_partition(uint32_t index, const topic_config& config,
                                   std::shared_ptr<segment_pool> pool)
    : index_(index),
      retention_bytes_(config.retention_bytes),
      retention_ns_(static_cast<int64_t>(config.retention_ms) * 1'000'000),
      segment_bytes_(choose_segment_bytes(config)),
      pool_(pool && pool->buffer_bytes() == segment_bytes_ ? std::move(pool) : nullptr) {}

memory_partition::~memory_partition() = default;

void memory_partition::start_at(uint64_t offset) {
    ES_ASSERT(segments_.empty() && end_offset_ == start_offset_);
    start_offset_ = offset;
    end_offset_ = offset;
    publish_counters();
}

void memory_partition::reset_to(uint64_t offset) {
    segments_.clear();
    stored_bytes_ = 0;
    start_offset_ = offset;
    end_offset_ = offset;
    publish_counters();
}

memory_partition::segment& memory_partition::segment_for_append(size_t record_bytes) {
    if (!segments_.empty() && segments_.back()->used + record_bytes <= segments_.back()->capacity) {
        return *segments_.back();
    }
    std::unique_ptr<segment> s = std::move(spare_);
    if (!s) s = std::make_unique<segment>(segment_bytes_, pool_);
    s->reset(end_offset_);
    segments_.push_back(std::move(s));
    return *segments_.back();
}

template <class Write>
void memory_partition::append_record(size_t size, int64_t now_ns, Write&& write) {
    segment& s = segment_for_append(size);
    std::byte* dst = s.data.get() + s.used;
    write(dst);
    store_le<uint64_t>(dst + record_field::offset, end_offset_);
    int64_t ts = load_le<int64_t>(dst + record_field::timestamp_ns);
    if (ts == 0) {
        ts = now_ns;
        store_le<int64_t>(dst + record_field::timestamp_ns, ts);
    }
    s.max_timestamp = std::max(s.max_timestamp, ts);
    s.positions.push_back(static_cast<uint32_t>(s.used));
    s.used += size;
    stored_bytes_ += size;
    ++end_offset_;
}

void memory_partition::finish_append() {
    // Byte retention: whole segments go, oldest first, but never the one being written.
    while (stored_bytes_ > retention_bytes_ && segments_.size() > 1) drop_oldest_segment();
    publish_counters();
}

uint64_t memory_partition::append(const record_run& run, int64_t now_ns) {
    ES_ASSERT(run.count > 0);
    const uint64_t base = end_offset_;
    const std::byte* p = run.data;
    const std::byte* const end = p + run.bytes;
    while (p < end) {
        const auto size = load_le<uint32_t>(p + record_field::record_bytes);
        ES_ASSERT(size >= record_header_bytes && p + size <= end);
        append_record(size, now_ns, [p, size](std::byte* dst) { std::memcpy(dst, p, size); });
        p += size;
    }
    finish_append();
    return base;
}

uint64_t memory_partition::append(std::span<const event_in> events, int64_t now_ns) {
    ES_ASSERT(!events.empty());
    const uint64_t base = end_offset_;
    for (const event_in& e : events) {
        append_record(encoded_size(e), now_ns, [&e](std::byte* dst) { encode_record(e, dst); });
    }
    finish_append();
    return base;
}

void memory_partition::drop_oldest_segment() {
    std::unique_ptr<segment> s = std::move(segments_.front());
    segments_.pop_front();
    stored_bytes_ -= s->used;
    start_offset_ = std::max(start_offset_, s->end_offset());
    if (!spare_) spare_ = std::move(s);  // with the pages it was written through
}

bool memory_partition::prepare_spare(size_t budget_bytes) {
    if (segments_.empty() || segments_.back()->used < segments_.back()->capacity / 2) return false;
    if (spare_ && spare_->mapped_bytes() >= spare_->capacity) return false;
    // A buffer from the pool comes with the pages its last user wrote or touched mapped.
    if (!spare_) spare_ = std::make_unique<segment>(segment_bytes_, pool_);
    const size_t from = spare_->mapped_bytes();
    if (from >= spare_->capacity) return true;
    // Mapped now, in idle time, rather than during the appends that will fill the segment.
    const size_t end = std::min(spare_->capacity, from + budget_bytes);
    map_pages(spare_->data.get(), from, end);
    spare_->mapped = end;
    return true;
}

void memory_partition::trim_by_age(int64_t now_ns) {
    if (retention_ns_ == 0) return;
    const int64_t cutoff = now_ns - retention_ns_;
    bool changed = false;
    while (start_offset_ < end_offset_) {
        const segment& s = *segments_.front();
        if (start_offset_ >= s.end_offset()) {
            drop_oldest_segment();
            changed = true;
            continue;
        }
        if (load_le<int64_t>(s.record(start_offset_) + record_field::timestamp_ns) >= cutoff) break;
        ++start_offset_;
        changed = true;
    }
    // Free segments that hold only trimmed events, keeping the one being written.
    while (segments_.size() > 1 && segments_.front()->end_offset() <= start_offset_) {
        drop_oldest_segment();
        changed = true;
    }
    if (start_offset_ == end_offset_ && segments_.size() == 1) {
        drop_oldest_segment();
        changed = true;
    }
    if (changed) publish_counters();
}

memory_partition::segment_iterator memory_partition::find_segment(uint64_t offset) const {
    // Readers are nearly always at the tail, so try the last segment before searching.
    if (offset >= segments_.back()->base_offset) return std::prev(segments_.end());
    auto it = std::upper_bound(
        segments_.begin(), segments_.end(), offset,
        [](uint64_t o, const std::unique_ptr<segment>& s) { return o < s->base_offset; });
    ES_ASSERT(it != segments_.begin());
    return std::prev(it);
}

record_run memory_partition::read(uint64_t from, uint32_t max_events, size_t max_bytes) const {
    ES_ASSERT(from >= start_offset_ && from <= end_offset_);
    if (from == end_offset_ || max_events == 0) return {};
    const segment& seg = **find_segment(from);
    const uint64_t first = from - seg.base_offset;
    const uint64_t last_max = first + std::min<uint64_t>(seg.positions.size() - first, max_events);
    // end_at(j): byte position where the record before index j ends (j in first+1..size).
    auto end_at = [&](uint64_t j) -> size_t {
        return j < seg.positions.size() ? seg.positions[j] : seg.used;
    };
    const size_t begin = seg.positions[first];
    const size_t limit = max_bytes > SIZE_MAX - begin ? SIZE_MAX : begin + max_bytes;
    uint64_t end = last_max;  // one past the last record taken
    if (end_at(end) > limit) {
        // The first j whose record ends past the limit; records before it fit.
        uint64_t lo = first + 1;
        uint64_t hi = end;
        while (lo < hi) {
            const uint64_t mid = lo + (hi - lo) / 2;
            if (end_at(mid) <= limit) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        end = std::max(lo - 1, first + 1);  // at least one record
    }
    return {seg.data.get() + begin, end_at(end) - begin, static_cast<uint32_t>(end - first)};
}

uint64_t memory_partition::offset_for_timestamp(int64_t ts_ns) const {
    // Every segment before the first one whose largest timestamp reaches ts_ns holds only
    // older events, so only that segment needs a scan (timestamps need not be in order).
    for (const auto& s : segments_) {
        if (s->max_timestamp < ts_ns) continue;
        for (uint64_t o = std::max(start_offset_, s->base_offset); o < s->end_offset(); ++o) {
            if (load_le<int64_t>(s->record(o) + record_field::timestamp_ns) >= ts_ns) return o;
        }
    }
    return end_offset_;
}

void memory_partition::publish_counters() noexcept {
    pub_start_.store(start_offset_, std::memory_order_relaxed);
    pub_end_.store(end_offset_, std::memory_order_relaxed);
    pub_bytes_.store(stored_bytes_, std::memory_order_relaxed);
}

}  // namespace es::core
