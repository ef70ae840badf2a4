// Idempotent producer bookkeeping.
#include "core/producer_state.h"

#include <algorithm>
#include <limits>

#include "core/record_format.h"

namespace es::core {

producer_table::check_result producer_table::check(uint64_t producer_id, uint64_t first_sequence,
                                                   uint32_t count) const {
    check_result r;
    auto it = producers_.find(producer_id);
    if (it == producers_.end()) return r;  // new to this partition: append
    const producer& p = it->second;
    if (first_sequence == p.next_sequence) return r;
    if (first_sequence > p.next_sequence) {
        r.what = verdict::out_of_order;
        r.expected_sequence = p.next_sequence;
        return r;
    }
    // Below the next expected number: sent before, up to next_sequence at least. Its offsets
    // are known if one kept batch holds all of that (a batch's events have consecutive
    // offsets), whether the retry is cut as the first send was or not.
    r.what = verdict::duplicate;
    r.expected_sequence = p.next_sequence;
    const uint64_t sent_end = std::min<uint64_t>(first_sequence + count, p.next_sequence);
    for (uint32_t i = 0; i < p.recent_count; ++i) {
        const batch& b = p.recent[i];
        if (b.first_sequence <= first_sequence && sent_end <= b.first_sequence + b.count) {
            r.known_offset = true;
            r.base_offset = b.base_offset + (first_sequence - b.first_sequence);
        }
    }
    return r;
}

void producer_table::appended(uint64_t producer_id, uint64_t first_sequence, uint32_t count,
                              uint64_t base_offset, uint64_t now) {
    auto it = producers_.find(producer_id);
    if (it == producers_.end()) {
        if (producers_.size() >= max_producers_per_partition) {
            // Forget the producer unused longest. A linear scan, but only when the table is
            // full, and a new producer id per batch is not how producers behave.
            auto oldest = producers_.begin();
            for (auto i = producers_.begin(); i != producers_.end(); ++i) {
                if (i->second.last_used < oldest->second.last_used) oldest = i;
            }
            producers_.erase(oldest);
        }
        it = producers_.emplace(producer_id, producer{}).first;
    }
    producer& p = it->second;
    p.next_sequence = first_sequence + count;
    p.recent[p.recent_next] = {first_sequence, count, base_offset};
    p.recent_next = (p.recent_next + 1) % producer_batches_kept;
    if (p.recent_count < producer_batches_kept) p.recent_count++;
    p.last_used = now;
}

namespace {

// Per producer: id, next sequence, last use, recent count, recent next, then every kept batch
// (first sequence, count, base offset), little endian.
constexpr size_t batch_bytes = 8 + 4 + 8;
constexpr size_t producer_bytes = 8 + 8 + 8 + 1 + 1 + producer_batches_kept * batch_bytes;

}  // namespace

void producer_table::encode(std::vector<std::byte>& out) const {
    out.reserve(out.size() + 4 + producers_.size() * producer_bytes);
    append_le<uint32_t>(out, static_cast<uint32_t>(producers_.size()));
    for (const auto& [id, p] : producers_) {
        append_le<uint64_t>(out, id);
        append_le<uint64_t>(out, p.next_sequence);
        append_le<uint64_t>(out, p.last_used);
        append_le<uint8_t>(out, static_cast<uint8_t>(p.recent_count));
        append_le<uint8_t>(out, static_cast<uint8_t>(p.recent_next));
        for (const batch& b : p.recent) {
            append_le<uint64_t>(out, b.first_sequence);
            append_le<uint32_t>(out, b.count);
            append_le<uint64_t>(out, b.base_offset);
        }
    }
}

bool producer_table::decode(std::span<const std::byte>& in, producer_table& out) {
    if (in.size() < 4) return false;
    const auto n = load_le<uint32_t>(in.data());
    if (n > max_producers_per_partition || in.size() - 4 < size_t{n} * producer_bytes) {
        return false;
    }
    producer_table t;
    const std::byte* q = in.data() + 4;
    for (uint32_t i = 0; i < n; ++i) {
        const auto id = load_le<uint64_t>(q);
        producer p;
        p.next_sequence = load_le<uint64_t>(q + 8);
        p.last_used = load_le<uint64_t>(q + 16);
        p.recent_count = load_le<uint8_t>(q + 24);
        p.recent_next = load_le<uint8_t>(q + 25);
        if (p.recent_count > producer_batches_kept || p.recent_next >= producer_batches_kept) {
            return false;
        }
        const std::byte* b = q + 26;
        for (batch& r : p.recent) {
            r.first_sequence = load_le<uint64_t>(b);
            r.count = load_le<uint32_t>(b + 8);
            r.base_offset = load_le<uint64_t>(b + 12);
            b += batch_bytes;
        }
        if (!t.producers_.emplace(id, p).second) return false;  // an id twice
        q += producer_bytes;
    }
    in = in.subspan(4 + size_t{n} * producer_bytes);
    out = std::move(t);
    return true;
}

bool producer_table::operator==(const producer_table& o) const {
    return producers_ == o.producers_;
}

}  // namespace es::core
