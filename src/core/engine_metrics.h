// The engine's metrics: what the workers and the dispatcher count, registered in a
// metrics::registry so that /metrics exports them. Hot-path updates are per-thread counter
// increments (no shared cache line).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/registry.h"

namespace es::core {

// One worker's series (label worker="N").
struct worker_metrics {
    std::shared_ptr<metrics::counter> batches_appended;
    std::shared_ptr<metrics::counter> events_appended;
    std::shared_ptr<metrics::counter> events_delivered;
    std::shared_ptr<metrics::counter> gaps;
    std::shared_ptr<metrics::counter> parks;
    // Reads from disk for subscribers behind a durable partition's memory ring.
    std::shared_ptr<metrics::counter> disk_reads;
    std::shared_ptr<metrics::counter> disk_read_errors;
    std::shared_ptr<metrics::gauge> ingest_queue_bytes;
};

struct engine_metrics {
    std::vector<worker_metrics> workers;
    // Publish calls refused, by reason.
    std::shared_ptr<metrics::counter> publish_queue_full;
    std::shared_ptr<metrics::counter> publish_timed_out;
    std::shared_ptr<metrics::counter> publish_invalid;
    std::shared_ptr<metrics::gauge> topics;
    std::shared_ptr<metrics::gauge> partitions;
    std::shared_ptr<metrics::gauge> subscriptions;

    // Registers every series in `registry`, or makes unregistered metrics when it is null (an
    // engine used without a node still counts). Names are eventstream_*.
    static engine_metrics create(metrics::registry* registry, uint32_t worker_count);
};

}  // namespace es::core
