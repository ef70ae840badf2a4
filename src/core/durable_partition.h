// A durable partition's state on its worker: the batch being gathered for the disk, the
// publishers waiting for their acks, and how far subscribers may read. The memory ring
// (memory_partition) still assigns offsets and serves recent events; this adds the disk.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>

#include "core/batch.h"
#include "core/durable_backend.h"

namespace es::core {

// A publisher waiting until its batch is durable.
struct pending_ack {
    uint64_t end_offset = 0;  // durable once durable_end reaches this
    publish_completion completion;
    publish_outcome outcome;
};

struct durable_partition {
    // Constant after construction.
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    std::shared_ptr<durable_progress> progress = std::make_shared<durable_progress>();

    // Owning worker thread only.
    std::unique_ptr<durable_write> pending;  // being gathered; null when nothing is
    int64_t pending_since_ns = 0;            // monotonic time of pending's first event
    std::deque<pending_ack> acks;            // in offset order
    // Events below this are durable and may be delivered; it trails progress->durable_end
    // until the worker has seen the progress.
    uint64_t visible_end = 0;
    errc failure = errc::ok;  // the worker's copy of progress->failure
    bool gathering = false;   // on the worker's list of partitions with a pending batch
    uint32_t slot = 0;        // where the partition sits in its worker's table
    uint32_t generation = 0;
};

}  // namespace es::core
