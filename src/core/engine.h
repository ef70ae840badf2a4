// The engine: one node's data plane without I/O. It owns the topic table, the workers and the
// dispatcher, and offers the calls every listener (native, HTTP, gRPC) is built on: topic
// admin, publish, subscribe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "core/cluster_hooks.h"
#include "core/dispatcher.h"
#include "core/durable_backend.h"
#include "core/engine_metrics.h"
#include "core/event_record.h"
#include "core/producer_state.h"
#include "core/subscription.h"
#include "core/topic.h"
#include "core/topic_table.h"
#include "core/worker.h"

namespace es::core {

struct engine_options {
    // Worker threads; 0 means one per CPU this process may use.
    uint32_t workers = 0;
    // Pin worker i to the i-th allowed CPU (NUMA-local memory where there are several nodes).
    bool pin_workers = true;
    worker_options worker;
    dispatcher_options dispatch;
    // Most subscriptions at once.
    uint32_t subscriptions_max = 100000;
    // Freed memory-partition segments of the largest size (8 MiB) kept for reuse, their pages
    // still mapped (core/segment_pool.h); 0 frees each at once.
    uint64_t segment_pool_bytes = 256 << 20;
    // Fill that pool at start(), touching every page, so that no partition's growth faults
    // pages in (the JVM's AlwaysPreTouch). Takes start() a moment per GiB.
    bool segment_pool_pretouch = false;
    // Time for event stamps and retention; null means the system clock.
    const clock_source* clock = nullptr;
    // Where the engine registers its eventstream_* metrics; null keeps them unregistered.
    // REQUIRES: outlives the engine.
    metrics::registry* metrics = nullptr;
    // Durable storage; null refuses storage=durable topics (not_supported). REQUIRES: outlives
    // the engine and keeps running until stop() has returned (stop waits for durable acks).
    durable_backend* durable = nullptr;
    // Cluster mode (null: this node runs alone). Topic admin goes through it, and durable
    // topics are replicated; `durable` must be set too. REQUIRES: outlives the engine.
    cluster_hooks* cluster = nullptr;
};

struct partition_info {
    uint32_t partition = 0;
    uint32_t worker = 0;
    uint64_t start_offset = 0;  // oldest offset held
    uint64_t end_offset = 0;    // next offset to be assigned
    uint64_t stored_bytes = 0;
};

struct topic_info {
    topic_config config;
    uint64_t id = 0;
    std::vector<partition_info> partitions;
};

class engine {
  public:
    explicit engine(engine_options options = {});
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // Starts the workers. Before start() the engine works synchronously on the calling thread
    // for admin calls, but publish needs started workers.
    void start();
    // Refuses new publishes, lets every queued batch be appended and delivered as far as
    // credit allows, then stops the workers. Idempotent; the destructor calls it.
    void stop();

    uint32_t worker_count() const noexcept { return static_cast<uint32_t>(workers_.size()); }

    // Brings back every durable topic the backend holds, with its offsets, before start().
    // Errors: from the backend (io_error), or a stored topic this node cannot take.
    status restore_topics();

    // Control plane, any thread.
    // Errors: invalid_argument (names the field; a replication factor above 1 needs a
    // cluster), already_exists, not_supported (durable without a backend), io_error.
    result<topic_info> create_topic(const topic_config& config);
    // Deletes the topic and its events; its subscriptions end (their sinks are not called
    // again once this returns). Error: not_found.
    status delete_topic(std::string_view name);
    std::vector<topic_info> list_topics() const;
    result<topic_info> describe_topic(std::string_view name) const;
    // A handle for publishing and subscribing without a lookup per call.
    result<topic_ptr> find_topic(std::string_view name) const;

    // --- cluster mode: called by the cluster (src/replication) as the controller's log is
    // applied and as partition leadership moves. Control plane, any thread except a worker.
    // Creates the replicated topic the controller assigned `id`, persisting it first; every
    // partition refuses publishes (unavailable) until set_replica_role makes it a leader. A
    // topic with this id already present (restored from disk) is returned as it is.
    // Errors: as create_topic; already_exists when the name is taken by another id.
    result<topic_ptr> create_replicated_topic(const topic_config& config, uint64_t id);
    // Deletes the topic on this node only. Error: not_found.
    status delete_local_topic(std::string_view name);
    // Partition `partition` of `t` serves on this node (leader: continuing at end_offset,
    // which holds every committed event, with the idempotent producers' state `producers`) or
    // refuses with `refusal` (code not_leader or unavailable, and a message naming the leader
    // when known). Takes effect in order on the partition's worker; returns without waiting.
    void set_replica_role(const topic_ptr& t, uint32_t partition, bool leader, uint64_t end_offset,
                          const error& refusal, producer_table producers = {});

    // The cluster's nodes and partition leaders as this node knows them; nullopt on a single
    // node. Any thread.
    std::optional<cluster_layout> layout() const {
        if (options_.cluster == nullptr) return std::nullopt;
        return options_.cluster->layout();
    }

    // Data plane, any thread. See dispatcher::publish.
    result<publish_summary> publish(const topic_ptr& t, std::span<const event_in> events,
                                    const publish_options& options = {},
                                    publish_completion done = {}) {
        return dispatcher_.publish(t, events, options, done);
    }

    // Starts delivering the given partitions of `t` (all when empty) to `sink`, from `start`.
    // An offset start below a partition's oldest event begins with a gap notice (durable
    // topics: below the oldest event on disk); above its end it begins at the end. `group`
    // names the consumer group whose committed offsets start_position::committed reads
    // (empty: none). Returns the subscription id. Errors: not_found (topic deleted or no such
    // partition), too_large (subscriptions_max), invalid_argument (committed start without a
    // group, or a bad group name).
    result<uint64_t> subscribe(const topic_ptr& t, std::span<const uint32_t> partitions,
                               start_position start, std::shared_ptr<subscription_sink> sink,
                               std::string_view group = {});
    // Stops the subscription; its sink is not called again once this returns. Error: not_found.
    status unsubscribe(uint64_t subscription_id);

    // Any thread except a worker. The event at `offset` of partition `partition`, copied, from
    // memory or (durable topics) disk. Errors: not_found (no such partition; or the offset is
    // not held: not yet written, or gone by retention, the message says which).
    result<event_record> read_event(const topic_ptr& t, uint32_t partition, uint64_t offset);

    // Consumer-group offsets. Any thread except a worker. `offset` is the next offset the
    // group will read in the partition. Durable topics keep them on disk (synced as the fsync
    // policy says) and across restarts; memory topics keep them in memory while the node runs.
    // Errors: invalid_argument (group name: 1..max_group_name_bytes bytes), not_found (topic
    // deleted or no such partition), io_error.
    status commit_offset(const topic_ptr& t, std::string_view group, uint32_t partition,
                         uint64_t offset);
    // The same, without waiting: `done` gets the status on any thread (perhaps before this
    // returns). For network threads, which must not wait for a cluster's Raft round trip.
    void commit_offset_async(const topic_ptr& t, std::string_view group, uint32_t partition,
                             uint64_t offset, std::function<void(status)> done);
    // The committed offset, or nullopt when the group never committed for the partition.
    result<std::optional<uint64_t>> committed_offset(const topic_ptr& t, std::string_view group,
                                                     uint32_t partition);

  private:
    // Ok unless partition `partition` of a replicated topic refuses on this node (not its
    // leader, or a new leader still applying what earlier terms committed): then its refusal.
    status check_served(const topic& t, uint32_t partition) const;
    // What commit_offset checks before it stores anything.
    status check_commit(const topic_ptr& t, std::string_view group, uint32_t partition) const;
    // A memory topic's group offset, kept while the node runs.
    void remember_offset(const topic_ptr& t, std::string_view group, uint32_t partition,
                         uint64_t offset);
    struct subscription_entry {
        topic_ptr topic;
        std::vector<uint32_t> partitions;
        std::shared_ptr<subscription_sink> sink;
    };

    topic_info info_of(const topic& t) const;
    // Places a new topic's partitions on workers (and, durable, persists it first unless it
    // was `restored` from disk). `id` 0 takes the next free id. REQUIRES: admin_mutex_ held.
    result<topic_ptr> create_locked(const topic_config& config, uint64_t id, bool restored);
    // Where a new cursor on partition p of t starts. Runs disk lookups on the caller's thread.
    result<std::optional<uint64_t>> committed_offset_of(const topic& t, std::string_view group,
                                                        uint32_t partition);
    result<start_position> resolve_start(const topic& t, uint32_t partition,
                                         const start_position& start, std::string_view group);
    void update_admin_gauges();                   // REQUIRES: admin_mutex_ held
    status delete_locked(std::string_view name);  // REQUIRES: admin_mutex_ held

    // Slots of one worker's partition table. Control plane only.
    struct slot_allocator {
        std::vector<uint32_t> generation;  // by slot: current (if used) or next generation
        std::vector<uint32_t> free;
        std::pair<uint32_t, uint32_t> allocate();  // slot, generation
        void release(uint32_t slot);
    };

    const engine_options options_;
    const clock_source& clock_;
    const engine_metrics metrics_;
    std::vector<std::unique_ptr<worker>> workers_;  // constant after construction
    topic_table topics_;
    // Shared with every memory partition, which may outlive the engine in a topic_ptr.
    const std::shared_ptr<segment_pool> segments_;
    dispatcher dispatcher_;
    std::vector<slot_allocator> slots_;  // by worker; guarded by admin_mutex_
    uint32_t next_worker_ = 0;           // placement of new partitions; guarded by admin_mutex_

    // Admin calls are serialised; the data plane never takes this lock.
    mutable std::mutex admin_mutex_;
    std::map<uint64_t, subscription_entry> subscriptions_;  // guarded by admin_mutex_
    uint64_t next_subscription_id_ = 1;                     // guarded by admin_mutex_
    bool started_ = false;                                  // guarded by admin_mutex_
    bool stopped_ = false;                                  // guarded by admin_mutex_

    // Group offsets of memory topics: (topic id, group, partition) -> offset.
    std::mutex groups_mutex_;
    std::map<std::tuple<uint64_t, std::string, uint32_t>, uint64_t, std::less<>>
        group_offsets_;  // guarded by groups_mutex_
};

}  // namespace es::core
