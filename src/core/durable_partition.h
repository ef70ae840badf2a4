// A durable partition's state on its worker: the batch being gathered for the disk, the
// publishers waiting for their acks, and how far subscribers may read. The memory ring
// (memory_partition) still assigns offsets and serves recent events; this adds the disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/batch.h"
#include "core/durable_backend.h"

namespace es::core {

// A publisher waiting until its batch is durable.
struct pending_ack {
    uint64_t end_offset = 0;  // durable once durable_end reaches this
    publish_completion completion;
    publish_outcome outcome;
};

// Whether this node takes publishes and subscriptions for a replicated partition (cluster
// mode): only its Raft leader does. Set by the control plane; read by publishers (a quick
// refusal with a message that names the leader) and by the worker, whose own copy of the
// role decides (see worker::set_replica_role).
class replica_gate {
  public:
    // nullopt while the partition serves.
    std::optional<error> refusal() const {
        if (refusing_.load(std::memory_order_acquire) == errc::ok) return std::nullopt;
        std::lock_guard lock(mutex_);
        return error{refusing_.load(std::memory_order_relaxed), message_};
    }
    void serve() { refusing_.store(errc::ok, std::memory_order_release); }
    void refuse(errc code, std::string message) {
        std::lock_guard lock(mutex_);
        message_ = std::move(message);
        refusing_.store(code, std::memory_order_release);
    }

  private:
    std::atomic<errc> refusing_{errc::ok};
    mutable std::mutex mutex_;
    std::string message_;  // guarded by mutex_
};

struct durable_partition {
    // Constant after construction.
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    replica_gate gate;

    // Owning worker thread only (set before the worker adopts the partition). A replicated
    // partition gets a new progress each time this node becomes its leader, so that writes
    // of an earlier term, failing late, touch nothing of the new one.
    std::shared_ptr<durable_progress> progress = std::make_shared<durable_progress>();
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
