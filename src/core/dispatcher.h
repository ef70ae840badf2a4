// The dispatcher: turns one publish call into batches, one run of events per partition, and
// queues each batch on the worker that owns its partition. It runs on the publishing thread;
// there is no dispatcher thread to hop through.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "core/batch.h"
#include "core/engine_metrics.h"
#include "core/event.h"
#include "core/publish_gate.h"
#include "core/topic.h"
#include "core/worker.h"

namespace es::core {

// What publish does when a worker's ingest queue is full.
enum class backpressure {
    fail,   // return queue_full at once (retryable)
    block,  // wait for room, up to block_timeout_ns
};

struct publish_options {
    backpressure on_full = backpressure::fail;
    // With backpressure::block: give up with timed_out after this long. 0 waits without limit
    // (until the node stops).
    int64_t block_timeout_ns = 0;
    // Send every event to this partition instead of choosing by key.
    std::optional<uint32_t> partition;
    // Idempotent producer: with producer_id != 0 (which needs `partition`), the events are
    // numbered first_sequence, first_sequence + 1, ... for this producer and partition, and a
    // batch the partition has already appended is acknowledged (publish_outcome::duplicate)
    // without being appended again. A number beyond the next one expected is refused with
    // invalid_argument (events were lost in between).
    uint64_t producer_id = 0;
    uint64_t first_sequence = 0;
    // The publisher keeps every byte the events point to (keys, payloads, header names and
    // values, and the arrays of headers) valid and unchanged until the completion of each
    // batch it queued has run; the events array itself may go when publish returns. A batch
    // then carries its events by reference (64 bytes each in the queue) and the worker encodes
    // them straight into the partition, instead of the publishing thread copying them into the
    // ingest queue first: for each batch whose events' records take at least that much of the
    // queue (so a batch never needs more room lent than copied). Taken only with a completion
    // (without one the publisher cannot tell when the bytes are free); otherwise, and for
    // batches of smaller events, the events are copied as usual.
    bool borrowed = false;
};

struct publish_summary {
    uint32_t batches_queued = 0;
    uint32_t events_queued = 0;
    // Events refused because a queue was full (only with backpressure::fail, and only when
    // another partition's batch of the same call was queued: if none was, publish returns
    // queue_full). With backpressure::fail a partition's events are queued all or none.
    uint32_t events_refused = 0;
};

struct dispatcher_options {
    // Largest batch handed to a worker; bigger publishes are split (bytes of records). Also
    // capped by a quarter of the worker's ingest queue.
    size_t batch_bytes_max = 1 << 20;
    // Most events in one publish call.
    size_t events_per_publish_max = 1 << 16;
};

class dispatcher {
  public:
    // REQUIRES: workers and metrics outlive the dispatcher.
    dispatcher(std::span<const std::unique_ptr<worker>> workers, const engine_metrics& metrics,
               dispatcher_options options = {});

    // Any thread. Routes each event to a partition: the explicit one in `options`, else
    // stable_hash(key) mod partitions for keyed events, else one partition per call chosen
    // round-robin. Events of one partition keep their order. The events are encoded straight
    // into the owning worker's ingest queue, in batches of up to batch_bytes_max (each
    // numbered on from the last for an idempotent producer). `done` is called once for every
    // batch that was queued (never for refused ones). With backpressure::fail one partition's
    // events are queued all or none: a half-queued partition would be retried whole, and an
    // idempotent producer's retry taken for a duplicate, its refused rest lost. With
    // backpressure::block a later batch may time out after earlier ones were queued.
    // Errors, with nothing queued: invalid_argument / too_large (the message names the event),
    // not_found (topic deleted), shutting_down, queue_full (fail mode), timed_out (block mode).
    result<publish_summary> publish(const topic_ptr& t, std::span<const event_in> events,
                                    const publish_options& options, publish_completion done);

    // Refuses new publishes and waits until no publish call is running. Idempotent.
    void close();

  private:
    struct group {
        uint32_t partition;
        uint32_t events;
    };

    // Claims room for `bytes` in the worker's ingest queue, waiting as options say.
    bool claim(worker& w, size_t bytes, mpsc_byte_ring::claim& c, const publish_options& options,
               int64_t deadline_ns);

    std::span<const std::unique_ptr<worker>> workers_;
    const engine_metrics& metrics_;
    const dispatcher_options options_;
    publish_gate gate_;  // closed by close(); every publish call is inside it
};

}  // namespace es::core
