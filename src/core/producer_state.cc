// Idempotent producer bookkeeping.
#include "core/producer_state.h"

#include <limits>

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
    // Below the next expected number: sent before. Find its offsets if it is a kept batch.
    r.what = verdict::duplicate;
    for (uint32_t i = 0; i < p.recent_count; ++i) {
        const batch& b = p.recent[i];
        if (b.first_sequence == first_sequence && b.count == count) {
            r.known_offset = true;
            r.base_offset = b.base_offset;
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

}  // namespace es::core
