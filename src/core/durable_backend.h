// What the engine needs from durable storage, as an interface: core does no I/O and knows
// nothing of RocksDB. src/storage/store_service implements it; the node hands it to the engine
// (engine_options::durable). Writes and catch-up reads are asynchronous, so that no worker
// ever waits on the disk; the other calls are synchronous and are made on control-plane or
// listener threads, never on a worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/errc.h"
#include "common/result.h"
#include "core/event_record.h"
#include "core/topic.h"

namespace es::core {

// Progress of one durable partition's writes, shared by the partition's worker and the
// writes in flight (so that a write finishing after its topic was deleted touches nothing
// freed). Written by the backend's writer thread, read by the worker.
struct durable_progress {
    // Offsets below this are durable under the fsync policy. Only grows.
    std::atomic<uint64_t> durable_end{0};
    // Set once when a write fails; the partition then refuses further appends.
    std::atomic<errc> failure{errc::ok};
    // Called by the writer after it moved durable_end or set failure: wakes the worker.
    std::function<void()> notify;
};

// An idempotent producer's batch inside a durable_write: a replicated partition carries these
// through its log, so that the producer state survives failover.
struct producer_append {
    uint64_t producer_id = 0;
    uint64_t first_sequence = 0;
    uint32_t count = 0;
    uint64_t base_offset = 0;
};

// One batch on its way to disk: records back to back (record_format.h) with their offsets
// (base_offset, base_offset + 1, ...) and timestamps set.
struct durable_write {
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    uint64_t base_offset = 0;
    uint32_t count = 0;
    std::vector<std::byte> records;
    // The idempotent producers' batches among the records, in offset order.
    std::vector<producer_append> producers;
    std::shared_ptr<durable_progress> progress;
};

// Records read back from disk for a subscriber behind the memory ring.
struct durable_chunk {
    uint64_t start_offset = 0;  // the partition's oldest offset on disk when it was read
    uint64_t from = 0;          // offset of the first record in `records`
    uint32_t count = 0;
    std::vector<std::byte> records;
};

struct durable_bounds {
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
    uint64_t stored_bytes = 0;
};

struct durable_topic {
    topic_config config;
    uint64_t id = 0;
};

class durable_backend {
  public:
    virtual ~durable_backend() = default;

    // --- control plane (any non-worker thread) ---
    // Every durable topic on disk, for the engine to restore at start-up.
    virtual result<std::vector<durable_topic>> topics() = 0;
    // Ids at or above this were never used by a durable topic.
    virtual uint64_t next_topic_id() = 0;
    // Persists a new durable topic. The engine calls it before the topic becomes visible.
    virtual status create_topic(const durable_topic& t) = 0;
    // Deletes a topic's events, group offsets and metadata.
    virtual status drop_topic(uint64_t topic_id) = 0;
    virtual result<durable_bounds> bounds(uint64_t topic_id, uint32_t partition) = 0;
    virtual result<std::optional<event_record>> lookup(uint64_t topic_id, uint32_t partition,
                                                       uint64_t offset) = 0;
    virtual result<uint64_t> offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                                  int64_t ts_ns) = 0;
    // Stores a group's offset, durable under the fsync policy when it returns.
    virtual status commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                                 uint64_t offset) = 0;
    // The same, without waiting: `done` runs once the offset is stored (on any thread, perhaps
    // before this returns). A cluster stores it through the partition's Raft log, which takes
    // a round trip to the replicas that a network thread must not wait for.
    virtual void commit_offset_async(uint64_t topic_id, std::string_view group, uint32_t partition,
                                     uint64_t offset, std::function<void(status)> done) {
        done(commit_offset(topic_id, group, partition, offset));
    }
    virtual result<std::optional<uint64_t>> committed_offset(uint64_t topic_id,
                                                             std::string_view group,
                                                             uint32_t partition) = 0;

    // --- data plane (worker threads) ---
    // Queues a write. Once it is durable the backend raises w->progress->durable_end to
    // base_offset + count (or sets failure) and calls notify. Writes of one partition are
    // written in the order they were queued. Blocks only while the backend's queue is full
    // (back-pressure).
    virtual void write(std::unique_ptr<durable_write> w) = 0;
    // Reads records from `from` on, at most max_events and about max_bytes, and hands them to
    // `done` on the backend's reader thread (which must not block; post to the worker).
    virtual void read(uint64_t topic_id, uint32_t partition, uint64_t from, uint32_t max_events,
                      size_t max_bytes, std::function<void(result<durable_chunk>)> done) = 0;
};

// How a worker batches a durable partition's events before it hands them to the backend:
// a batch goes when it holds batch_events_max events or batch_bytes_max bytes, or linger_us
// after its first event. The backend groups the batches of every partition that are waiting
// when it writes, so a linger of 0 still gets large writes under load.
struct durable_batching {
    uint32_t batch_events_max = 4096;
    size_t batch_bytes_max = 1 << 20;
    uint32_t linger_us = 0;
    // Memory ring kept in front of the disk for each durable partition (bytes): recent events
    // are delivered from it; a subscriber behind it reads from disk.
    uint64_t cache_bytes = 8 << 20;
};

}  // namespace es::core
