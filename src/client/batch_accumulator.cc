// The producer's batching and retry logic (batch_accumulator.h).
#include "client/batch_accumulator.h"

#include <algorithm>

#include "common/assert.h"
#include "common/cache.h"
#include "protocol/codec.h"

namespace es::client {

int64_t retry_backoff_ns(const retry_policy& p, uint32_t attempts) noexcept {
    int64_t wait = std::max<int64_t>(p.backoff_initial_ns, 1);
    for (uint32_t i = 1; i < attempts && wait < p.backoff_max_ns; ++i) wait *= 2;
    return std::min(wait, p.backoff_max_ns);
}

retry_decision decide_retry(const retry_policy& p, const eventstream::error& e, uint32_t attempts,
                            int64_t first_sent_ns, int64_t now_ns) noexcept {
    if (!e.retryable()) return {};
    const int64_t at = now_ns + retry_backoff_ns(p, attempts);
    if (at - first_sent_ns >= p.delivery_timeout_ns) return {};
    return {true, at};
}

batch_accumulator::topic_ref batch_accumulator::topic(std::string_view name) {
    auto it = topics_.find(name);
    if (it == topics_.end()) it = topics_.emplace(std::string(name), topic_partitions{}).first;
    return topic_ref(&it->first, &it->second);
}

batch_accumulator::partition_state& batch_accumulator::state_of(topic_ref topic,
                                                                uint32_t partition) {
    auto& parts = *topic.parts_;
    if (parts.size() <= partition) parts.resize(size_t{partition} + 1);
    return parts[partition];
}

batch_accumulator::partition_state* batch_accumulator::find_state(std::string_view topic,
                                                                  uint32_t partition) {
    auto it = topics_.find(topic);
    if (it == topics_.end() || it->second.size() <= partition) return nullptr;
    return &it->second[partition];
}

void batch_accumulator::seal(partition_state& s) {
    ES_ASSERT(s.open.has_value());
    batch b = std::move(*s.open);
    s.open.reset();
    s.last_records_bytes = b.records.size();
    b.first_sequence = s.next_sequence;
    s.next_sequence += b.size();
    ++s.seals;
    s.sealed.push_back(std::move(b));
}

namespace {

// The producer copies each event into its batch here and then unlocks its mutex, and the
// unlock (a locked instruction) waits for every store before it to finish. A batch's next bytes
// are in no cache of this core (the buffers cycle through the megabytes in flight), so every
// line of the copy waited for its fetch at the unlock: 15-19 % of a 1 KiB producer's CPU.
constexpr size_t fetch_ahead_bytes = 2048;

}  // namespace

template <class Now>
bool batch_accumulator::add_reading(topic_ref topic, uint32_t partition, pending_event ev,
                                    Now now) {
    ES_ASSERT(ev.bytes <= limits_.bytes_max);
    auto& s = state_of(topic, partition);
    bool changed = false;
    if (s.open &&
        (s.open->size() >= limits_.events_max || s.open->bytes + ev.bytes > limits_.bytes_max)) {
        seal(s);
        changed = true;
    }
    if (!s.open) {
        s.open.emplace();
        s.open->topic = *topic.name_;
        s.open->partition = partition;
        s.open->opened_ns = now();
        // A finished batch's buffers, and as much room as the partition's last batch took: a
        // batch then grows without copies or fresh pages while the load is steady.
        if (!spare_records_.empty()) {
            s.open->records = std::move(spare_records_.back());
            spare_records_.pop_back();
        }
        if (!spare_done_.empty()) {
            s.open->done = std::move(spare_done_.back());
            spare_done_.pop_back();
        }
        s.open->records.reserve(s.last_records_bytes);
        changed = true;
    }
    batch& b = *s.open;
    const auto& e = ev.ev;
    const size_t written_from = b.records.size();
    protocol::append_publish_record(b.records, e.key, e.value, e.timestamp_ns, e.headers.size());
    for (const auto& h : e.headers) protocol::append_publish_header(b.records, h.name, h.value);
    const char* records = b.records.data();
    fetch_ahead_for_writing(records + written_from, records + b.records.size(),
                            records + b.records.capacity(), fetch_ahead_bytes);
    b.done.push_back(std::move(ev.done));
    b.bytes += ev.bytes;
    ++events_held_;
    if (b.size() >= limits_.events_max || b.bytes >= limits_.bytes_max) {
        seal(s);
        changed = true;
    }
    return changed;
}

bool batch_accumulator::add(topic_ref topic, uint32_t partition, pending_event ev, clock_fn now) {
    return add_reading(topic, partition, std::move(ev), now.read);
}

bool batch_accumulator::add(std::string_view topic, uint32_t partition, pending_event ev,
                            int64_t now_ns) {
    return add_reading(this->topic(topic), partition, std::move(ev), [now_ns] { return now_ns; });
}

std::vector<batch> batch_accumulator::take_ready(int64_t now_ns, bool flush) {
    std::vector<batch> out;
    for (auto& [topic, parts] : topics_) {
        for (auto& s : parts) {
            // A lingered batch is sealed only when it can go at once; while the partition's
            // batches are out (or queued) it stays open and keeps gathering events, so a busy
            // partition sends fewer, larger batches rather than a queue of small ones.
            if (s.open && (flush || (sendable(s) && now_ns >= due_ns(s)))) {
                seal(s);
            }
            while (s.in_flight < limits_.max_in_flight && !s.sealed.empty() &&
                   s.sealed.front().retry_at_ns <= now_ns) {
                batch b = std::move(s.sealed.front());
                s.sealed.pop_front();
                if (b.attempts == 0) b.first_sent_ns = now_ns;
                ++b.attempts;
                ++s.in_flight;
                ++in_flight_total_;
                events_held_ -= b.size();
                out.push_back(std::move(b));
            }
        }
    }
    return out;
}

void batch_accumulator::recycle(std::string records, std::vector<delivery_callback> done) {
    ES_ASSERT(done.empty());
    if (spare_records_.size() < spares_max && records.capacity() > 0) {
        records.clear();
        spare_records_.push_back(std::move(records));
    }
    if (spare_done_.size() < spares_max && done.capacity() > 0) {
        spare_done_.push_back(std::move(done));
    }
}

void batch_accumulator::finished(std::string_view topic, uint32_t partition) {
    auto* s = find_state(topic, partition);
    ES_ASSERT(s != nullptr && s->in_flight > 0);
    --s->in_flight;
    --in_flight_total_;
}

void batch_accumulator::retry(batch b, int64_t retry_at_ns) {
    auto* s = find_state(b.topic, b.partition);
    ES_ASSERT(s != nullptr && s->in_flight > 0);
    --s->in_flight;
    --in_flight_total_;
    events_held_ += b.size();
    b.retry_at_ns = retry_at_ns;
    // Back before every batch sealed after it. With several batches out they fail in no set
    // order (a lost connection fails them all at once), and the partition's order is the order
    // they were sealed in; an idempotent partition refuses a later sequence before an earlier.
    const auto at = std::find_if(s->sealed.begin(), s->sealed.end(), [&](const batch& q) {
        return q.first_sequence > b.first_sequence;
    });
    s->sealed.insert(at, std::move(b));
}

std::optional<int64_t> batch_accumulator::next_wake_ns() const {
    std::optional<int64_t> wake;
    auto consider = [&](int64_t t) { wake = wake ? std::min(*wake, t) : t; };
    for (const auto& [topic, parts] : topics_) {
        for (const auto& s : parts) {
            if (s.in_flight < limits_.max_in_flight && !s.sealed.empty())
                consider(s.sealed.front().retry_at_ns);
            if (s.open && sendable(s)) consider(due_ns(s));
        }
    }
    return wake;
}

uint64_t batch_accumulator::seals(std::string_view topic, uint32_t partition) const {
    auto it = topics_.find(topic);
    if (it == topics_.end() || it->second.size() <= partition) return 0;
    return it->second[partition].seals;
}

uint64_t batch_accumulator::seals(topic_ref topic, uint32_t partition) const {
    const auto& parts = *topic.parts_;
    return parts.size() <= partition ? 0 : parts[partition].seals;
}

std::vector<batch> batch_accumulator::drain() {
    std::vector<batch> out;
    for (auto& [topic, parts] : topics_) {
        for (auto& s : parts) {
            for (auto& b : s.sealed) out.push_back(std::move(b));
            s.sealed.clear();
            if (s.open) out.push_back(std::move(*s.open));
            s.open.reset();
        }
    }
    events_held_ = 0;
    return out;
}

}  // namespace es::client
