// Subscriptions: where a subscriber starts, and the sink through which a partition's worker
// delivers events to it. A subscriber takes events only as fast as it grants credit; a
// subscriber that falls behind a memory partition's retention is told which offsets it missed
// (a gap) instead of making the node buffer without bound.
#pragma once

#include <cstdint>
#include <span>

#include "core/batch.h"
#include "core/event.h"

namespace es::core {

struct start_position {
    // committed: the subscription's consumer group's committed offset for each partition, and
    // where `fallback` says for a partition the group never committed (like Kafka's
    // auto.offset.reset). Needs a group.
    enum class kind { earliest, latest, offset, timestamp, committed };
    kind where = kind::latest;
    int64_t value = 0;             // the offset, or the timestamp in Unix ns
    kind fallback = kind::latest;  // with committed: earliest or latest

    static start_position earliest() { return {kind::earliest, 0}; }
    static start_position latest() { return {kind::latest, 0}; }
    static start_position at_offset(uint64_t o) { return {kind::offset, static_cast<int64_t>(o)}; }
    static start_position at_time(int64_t ns) { return {kind::timestamp, ns}; }
    static start_position committed(kind if_none = kind::latest) {
        return {kind::committed, 0, if_none};
    }
};

// How much a subscriber will take now.
struct delivery_credit {
    uint32_t events = 0;
    uint64_t bytes = 0;
};

// Receives one subscription's events. Each partition's calls come from the worker that owns
// it, one call at a time; calls for different partitions may run at once on different workers,
// so an implementation keeps per-partition state apart (as feed does). The calls run on a
// worker thread: they must not block, call the engine's admin methods (create/delete topic,
// subscribe, unsubscribe: those wait for the workers) or publish with backpressure::block.
class subscription_sink {
  public:
    virtual ~subscription_sink() = default;

    // How much the subscriber can take for this partition now. The worker delivers no more;
    // when it is zero the worker retries later (on its idle poll, or when woken).
    virtual delivery_credit credit(uint32_t partition) = 0;

    // Events in offset order, with no offset skipped since the last call or gap, as one run
    // of encoded records (record_format.h; for_each_event() walks it). The bytes are valid
    // only during the call: copy what must outlive it (a single memcpy of run.bytes).
    virtual void on_events(uint32_t partition, const record_run& events) = 0;

    // Offsets first..last (inclusive) left the partition before they could be delivered.
    virtual void on_gap(uint32_t partition, uint64_t first, uint64_t last) = 0;
};

// A subscriber's place in one partition. Owned and touched by the partition's worker only.
struct cursor {
    uint64_t subscription_id = 0;
    uint32_t partition = 0;
    uint64_t next_offset = 0;
    subscription_sink* sink = nullptr;  // kept alive by the subscription's entry in the engine
    bool waiting_for_credit = false;
    bool disk_read_pending = false;  // durable partitions: a read from disk is under way
};

}  // namespace es::core
