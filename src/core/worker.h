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
#include "core/memory_partition.h"
#include "core/mpsc_queue.h"
#include "core/subscription.h"

namespace es::core {

struct worker_options {
    // Ingest queue capacity, in batches (rounded up to a power of two).
    uint32_t ingest_queue_batches = 8192;
    // Batches taken from the ingest queue per pass.
    uint32_t ingest_pop_batches = 64;
    // Most events, and about the most bytes, handed to a sink per call.
    uint32_t deliver_events_max = 512;
    uint64_t deliver_bytes_max = 1 << 20;
    // How long an idle worker spins before it parks, in microseconds. Spinning keeps the
    // wake-up latency low while traffic is steady; parking frees the core when it is not.
    uint32_t spin_before_park_us = 100;
    // While a subscriber waits for credit, the parked worker looks again this often (us).
    uint32_t credit_poll_us = 500;
    // How often retention by age runs, in milliseconds.
    uint32_t retention_tick_ms = 100;
};

struct worker_stats {
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> events_appended{0};
    std::atomic<uint64_t> events_delivered{0};
    std::atomic<uint64_t> gaps{0};
    std::atomic<uint64_t> parks{0};
};

class worker {
  public:
    using task = std::function<void()>;

    worker(uint32_t index, const worker_options& options, const clock_source& clock);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    uint32_t index() const noexcept { return index_; }

    // Starts the thread, pinned to `cpu` when cpu >= 0.
    void start(int cpu);
    // Finishes every batch and task already queued, then stops the thread. Producers must have
    // stopped handing work in. Idempotent.
    void stop();

    // Any thread. Queues the batch; false (batch left in place) when the queue is full.
    [[nodiscard]] bool try_enqueue(std::unique_ptr<event_batch>& batch);

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

    size_t ingest_depth_approx() const noexcept { return ingest_.size_approx(); }
    const worker_stats& stats() const noexcept { return stats_; }

    // Worker thread only (from tasks): partitions and cursors this worker owns.
    void adopt_partition(memory_partition* p);
    void drop_partition(memory_partition* p);
    void add_cursor(memory_partition* p, std::unique_ptr<cursor> c);
    void remove_cursors(uint64_t subscription_id);

  private:
    void loop();
    bool run_tasks();
    bool run_ingest();
    void append(std::unique_ptr<event_batch> batch);
    // Delivers what c may take now; returns true if it delivered anything.
    bool deliver(memory_partition& p, cursor& c);
    bool deliver_waiting();
    void retention_tick();
    void park();

    // Constant after construction.
    const uint32_t index_;
    const worker_options options_;
    const clock_source& clock_;

    mpsc_queue<std::unique_ptr<event_batch>> ingest_;
    mpsc_queue<std::unique_ptr<task>> control_;

    // Parking: the worker announces parked_, re-checks its queues, then sleeps on wake_word_
    // (a futex). A producer that queued work reads parked_ after a full fence and bumps the word.
    alignas(false_sharing_bytes) std::atomic<bool> parked_{false};
    std::atomic<uint32_t> wake_word_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_{false};

    // Worker thread only.
    std::vector<memory_partition*> partitions_;
    std::vector<std::unique_ptr<cursor>> cursors_;
    std::vector<std::pair<memory_partition*, cursor*>> waiting_;  // cursors short of credit
    std::vector<event_view> view_buffer_;
    std::vector<std::unique_ptr<event_batch>> pop_buffer_;
    int64_t next_retention_ns_ = 0;

    worker_stats stats_;
    std::thread thread_;
};

}  // namespace es::core
