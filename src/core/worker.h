// A worker thread: owns a share of the partitions and is the only thread that touches them.
// Producers hand it batches through its ingest queue; the control plane hands it tasks through
// a separate queue, so that admin work never waits behind a full data queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "core/batch.h"
#include "core/durable_backend.h"
#include "core/durable_partition.h"
#include "core/engine_metrics.h"
#include "core/ingest_entry.h"
#include "core/memory_partition.h"
#include "core/mpsc_byte_ring.h"
#include "core/mpsc_queue.h"
#include "core/producer_state.h"
#include "core/subscription.h"

namespace es::core {

struct worker_options {
    // Ingest queue capacity in bytes of encoded batches (rounded up to a power of two). A batch
    // may take at most a quarter of it, which bounds the largest event a node accepts.
    uint64_t ingest_queue_bytes = 16 << 20;
    // Batches taken from the ingest queue per pass.
    uint32_t ingest_pop_batches = 64;
    // Most events, and about the most bytes, handed to a sink per call.
    uint32_t deliver_events_max = 512;
    uint64_t deliver_bytes_max = 1 << 20;
    // How long an idle worker waits for work before it parks, in microseconds: a few
    // microseconds of busy spin, then polls with a yield between them, so that other threads
    // ready to run on the core get it. Waiting keeps the wake-up latency low while traffic is
    // steady; parking frees the core when it is not.
    uint32_t spin_before_park_us = 100;
    // While a subscriber waits for credit, the parked worker looks again this often (us).
    uint32_t credit_poll_us = 500;
    // How often retention by age runs, in milliseconds.
    uint32_t retention_tick_ms = 100;
    // How durable partitions gather events before they go to disk.
    durable_batching durable;
};

class worker {
  public:
    using task = std::function<void()>;

    // `durable` may be null when no topic is durable. REQUIRES: it outlives the worker.
    worker(uint32_t index, const worker_options& options, const clock_source& clock,
           worker_metrics metrics, durable_backend* durable = nullptr);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    uint32_t index() const noexcept { return index_; }

    // Starts the thread, pinned to `cpu` when cpu >= 0.
    void start(int cpu);
    // Finishes every batch and task already queued (durable batches: until they are durable
    // and acked, so the backend must still run), then stops the thread. Producers must have
    // stopped handing work in. Idempotent.
    void stop();

    // Any thread. Claims room for an ingest entry of `bytes` (ingest_entry.h); false when the
    // queue has no room now. The claimer fills the entry and then calls commit().
    // REQUIRES: bytes <= max_entry_bytes().
    [[nodiscard]] bool try_claim(size_t bytes, mpsc_byte_ring::claim& c) noexcept {
        return ingest_.try_claim(bytes, c);
    }
    // The claiming thread. Hands the entry to the worker and wakes it if it is parked.
    void commit(const mpsc_byte_ring::claim& c) noexcept {
        ingest_.commit(c);
        wake_after_commit();
    }
    size_t max_entry_bytes() const noexcept { return ingest_.max_entry_payload(); }
    size_t ingest_capacity() const noexcept { return ingest_.capacity(); }

    // Any thread. Runs `t` on the worker thread, after the work queued before it. Blocks only
    // while the control queue is full. A worker that was never started runs it in place.
    void post(task t);

    // Any thread. Runs `f` on the worker thread and waits for its result.
    template <class F>
    auto call(F&& f) -> decltype(f()) {
        using R = decltype(f());
        std::packaged_task<R()> pt(std::forward<F>(f));
        auto fut = pt.get_future();
        post([&pt] { pt(); });
        return fut.get();
    }

    // Any thread. Wakes the worker if it is parked.
    void wake() noexcept;

    // Worker thread only (from tasks): partitions and cursors this worker owns. A partition
    // lives in a slot of the worker's table; batches name it by slot and generation.
    // A durable partition (p->durable set) gets its progress notifications wired to this
    // worker here.
    void adopt_partition(uint32_t slot, uint32_t generation, memory_partition* p);
    void drop_partition(uint32_t slot);
    // A replicated partition's role on this node. As a leader it takes publishes again and
    // continues from `end_offset` (what is committed and applied), with the idempotent
    // producers' state the partition's log holds; otherwise it refuses them with `refusal`.
    // Either way every publisher still waiting for an ack of the earlier term gets `refusal`
    // (the batch may or may not be committed by the next leader) and a batch being gathered
    // is dropped.
    void set_replica_role(uint32_t slot, uint32_t generation, bool leader, uint64_t end_offset,
                          errc refusal, producer_table producers);
    void add_cursor(memory_partition* p, std::unique_ptr<cursor> c);
    void remove_cursors(uint64_t subscription_id);

  private:
    void loop();
    bool run_tasks();
    bool run_ingest();
    void append(std::span<const std::byte> entry, int64_t now_ns);
    // Idempotent producers: true when the batch is new, or new after a duplicate head (then
    // `h` and `run` are cut to the new events and `out` says how many were a duplicate);
    // else answers it (a duplicate, or a sequence gap) and returns false.
    bool admit_producer_batch(memory_partition& p, ingest_header& h, ingest_events& batch,
                              publish_outcome& out);
    // Durable partitions: stages the batch for the disk and appends it to the ring; `out` is
    // its answer so far (partition, count, any duplicate head).
    void append_durable(memory_partition& p, const ingest_events& batch, const ingest_header& h,
                        publish_outcome out, int64_t now_ns);
    // Hands gathered batches to the backend: all of them when `all`, else those that are
    // full or have lingered long enough.
    void flush_durable(bool all);
    void flush_durable_one(memory_partition& p);
    // Applies the backend's progress: acks publishers, delivers newly durable events.
    bool apply_durable_progress();
    // A subscriber behind a durable partition's ring: reads from disk, asynchronously.
    void request_disk_read(memory_partition& p, cursor& c, const delivery_credit& credit);
    void on_disk_chunk(uint32_t slot, uint32_t generation, uint64_t subscription_id,
                       result<durable_chunk> chunk);
    bool durable_idle() const noexcept;
    void wake_after_commit() noexcept;
    // Delivers what c may take now; returns true if it delivered anything.
    bool deliver(memory_partition& p, cursor& c);
    bool deliver_waiting();
    void retention_tick();
    bool prepare_segments();
    void park();

    // Constant after construction.
    const uint32_t index_;
    const worker_options options_;
    const clock_source& clock_;

    mpsc_byte_ring ingest_;
    mpsc_queue<std::unique_ptr<task>> control_;

    // Parking: the worker announces parked_, re-checks its queues, then sleeps on wake_word_
    // (a futex). A producer that queued work reads parked_ after a full fence and bumps the word.
    alignas(false_sharing_bytes) std::atomic<bool> parked_{false};
    std::atomic<uint32_t> wake_word_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_{false};
    // Raised by the durable backend's writer when a partition of ours made progress.
    std::atomic<bool> durable_signal_{false};
    durable_backend* const durable_;

    // Worker thread only.
    struct slot_entry {
        memory_partition* partition = nullptr;
        uint32_t generation = 0;
    };
    std::vector<slot_entry> slots_;
    std::vector<memory_partition*> partitions_;
    std::vector<memory_partition*> appended_;  // partitions with new events in this pass
    std::vector<std::unique_ptr<cursor>> cursors_;
    std::vector<std::pair<memory_partition*, cursor*>> waiting_;  // cursors short of credit
    std::vector<memory_partition*> durable_partitions_;  // the durable ones among partitions_
    std::vector<memory_partition*> gathering_;           // durable partitions with a pending batch
    uint64_t acks_outstanding_ = 0;                      // pending_ack entries over all partitions
    int64_t next_retention_ns_ = 0;
    size_t prepare_next_ = 0;    // round-robin position of prepare_segments()
    uint64_t pass_batches_ = 0;  // appended in the current pass, counted at its end
    uint64_t pass_events_ = 0;

    const worker_metrics metrics_;
    std::thread thread_;
};

}  // namespace es::core
