// The store as the engine's durable backend: a writer thread that groups the batches of every
// durable partition into one RocksDB write (group commit) and syncs it as the fsync policy
// says, a reader thread for subscribers behind the memory ring, and retention. Workers hand it
// work and never wait on the disk themselves.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "core/durable_backend.h"
#include "metrics/counter.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "storage/log_store.h"

namespace es::storage {

// When a write counts as durable, and so when a publisher with acks=leader/all is answered.
enum class fsync_policy {
    always,    // the WAL is fsynced before the ack: survives power loss and kernel crashes
    interval,  // written to the WAL (the OS holds it) before the ack, fsynced every interval:
               // survives the process being killed; a machine crash can lose the last interval
    never,     // written to the WAL before the ack; the OS flushes when it likes
};

const char* fsync_policy_name(fsync_policy p) noexcept;
result<fsync_policy> parse_fsync_policy(std::string_view text);

struct store_service_options {
    fsync_policy fsync = fsync_policy::always;
    // With fsync_policy::interval: the longest a written batch waits for its fsync (ms).
    uint32_t fsync_interval_ms = 100;
    // Bytes of batches queued for the writer before workers wait (back-pressure).
    size_t write_queue_bytes_max = 64ull << 20;
    // Reads queued for the reader; more are refused (the worker retries on its next poll).
    uint32_t read_queue_max = 4096;
    // How often retention by bytes and by age runs over the durable partitions (ms).
    uint32_t retention_check_ms = 1000;
};

class store_service final : public core::durable_backend {
  public:
    // REQUIRES: store and registry (when not null) outlive the service.
    store_service(log_store& store, store_service_options options,
                  metrics::registry* registry = nullptr);
    ~store_service() override;
    store_service(const store_service&) = delete;
    store_service& operator=(const store_service&) = delete;

    // Starts the writer and reader threads.
    void start();
    // Writes and syncs what is queued, answers the reads queued, then stops the threads.
    // Call it after the engine has stopped (the engine waits for durable acks). Idempotent.
    void stop();

    // Time of each grouped store write (with its fsync under fsync=always), in ns; the same
    // histogram /metrics shows as eventstream_store_write_latency_ns.
    const metrics::histogram& write_latency_ns() const noexcept { return *write_latency_ns_; }

    // core::durable_backend
    result<std::vector<core::durable_topic>> topics() override;
    uint64_t next_topic_id() override;
    status create_topic(const core::durable_topic& t) override;
    status drop_topic(uint64_t topic_id) override;
    result<core::durable_bounds> bounds(uint64_t topic_id, uint32_t partition) override;
    result<std::optional<core::event_record>> lookup(uint64_t topic_id, uint32_t partition,
                                                     uint64_t offset) override;
    result<uint64_t> offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                          int64_t ts_ns) override;
    status commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                         uint64_t offset) override;
    result<std::optional<uint64_t>> committed_offset(uint64_t topic_id, std::string_view group,
                                                     uint32_t partition) override;
    void write(std::unique_ptr<core::durable_write> w) override;
    void read(uint64_t topic_id, uint32_t partition, uint64_t from, uint32_t max_events,
              size_t max_bytes, std::function<void(result<core::durable_chunk>)> done) override;

  private:
    // Work for the writer other than batches: it runs in queue order with them, so that a
    // commit or a drop lands after every batch queued before it.
    struct control_item {
        std::function<status()> run;
        std::promise<status> done;
    };
    struct read_request {
        uint64_t topic_id;
        uint32_t partition;
        uint64_t from;
        uint32_t max_events;
        size_t max_bytes;
        std::function<void(result<core::durable_chunk>)> done;
    };

    void writer_loop();
    void reader_loop();
    // fsync_policy::interval: fsyncs the WAL every fsync_interval_ms while there are writes,
    // on its own thread, so that writes go on during the fsync.
    void syncer_loop();
    // Writes one group of batches and reports each one's outcome to its partition.
    void write_group(std::vector<std::unique_ptr<core::durable_write>>& group);
    void run_retention();
    status submit(std::function<status()> run);

    // Constant after construction.
    log_store& store_;
    const store_service_options options_;

    std::mutex write_mutex_;
    std::condition_variable writer_wake_;
    std::condition_variable room_;  // workers waiting for queue room
    // Guarded by write_mutex_.
    std::vector<std::unique_ptr<core::durable_write>> writes_;
    std::deque<std::unique_ptr<control_item>> control_;
    size_t queued_bytes_ = 0;
    bool stopping_ = false;
    std::condition_variable syncer_wake_;
    bool syncer_stopping_ = false;  // set once the writer has stopped

    std::mutex read_mutex_;
    std::condition_variable reader_wake_;
    std::deque<read_request> reads_;  // guarded by read_mutex_
    bool reads_stopping_ = false;     // guarded by read_mutex_

    // Durable topics and their retention, for the writer's retention pass.
    std::mutex topics_mutex_;
    std::map<uint64_t, core::topic_config> topics_;  // guarded by topics_mutex_

    // Metrics (never null).
    std::shared_ptr<metrics::counter> writes_total_;
    std::shared_ptr<metrics::counter> batches_total_;
    std::shared_ptr<metrics::counter> bytes_total_;
    std::shared_ptr<metrics::counter> syncs_total_;
    std::shared_ptr<metrics::counter> errors_total_;
    std::shared_ptr<metrics::counter> reads_total_;
    std::shared_ptr<metrics::histogram> write_latency_ns_;

    // Writes since the syncer's last fsync.
    std::atomic<uint64_t> unsynced_writes_{0};

    std::thread writer_;
    std::thread reader_;
    std::thread syncer_;
    bool started_ = false;
};

}  // namespace es::storage
