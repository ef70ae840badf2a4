// Microbenchmarks of es::core::spsc_queue and es::core::mpsc_queue against
// moodycamel::ConcurrentQueue, side by side in one process: items/s through one or two producers
// and one consumer, single and batched, and the uncontended push+pop round trip.
//
// How to read the numbers:
// - Each transfer iteration starts its producer threads (timer paused), releases them together
//   and stops when the consumer has received every item; items/s counts items the consumer
//   actually got, and the consumer checks their sum, so a lost item fails the run. Google
//   Benchmark's ->Threads(n) is not used: its threads each run the same loop a number of times
//   of its own choosing, which cannot express "producers push N, the consumer takes N".
// - All queues are bounded the same way (64 Ki items): ConcurrentQueue is driven with
//   try_enqueue / try_enqueue_bulk, which never allocate, through producer tokens and a consumer
//   token (its fastest mode). Its producers are warmed up first so that their blocks and block
//   index exist; otherwise try_enqueue fails after 32 blocks per producer.
// - ConcurrentQueue's bulk enqueue is all-or-nothing; ours takes a prefix. Each producer retries
//   until its whole batch of 32 is in, so both deliver exactly the same items.
// - Every thread that finds the queue full or empty spins 64 times, then yields, as the queues'
//   own blocking push does; the policy is the same for every queue. The figures are sensitive
//   to it: a thread that polls a full or empty queue keeps pulling the other side's cache lines
//   away. Yielding on every miss raised all of them (moodycamel single-item SPSC from 5.5 to
//   6.6 M/s, ours from 147 to 188 M/s on the machine below) without changing the order.
// - The machine this was written on has only 2 cores: SPSC runs one thread per core; MPSC with
//   2 producers + 1 consumer is oversubscribed, so those figures include the scheduler and are
//   not what a machine with a core per thread gives.
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "common/cache.h"
#include "core/mpsc_queue.h"
#include "core/spsc_queue.h"

namespace {

constexpr size_t k_capacity = 65536;                 // items, the bound of every queue
constexpr uint64_t k_items_per_iteration = 1 << 20;  // items moved per transfer iteration
constexpr size_t k_batch_max = 32;

// Spin, then yield: on 2 cores a thread that only spins would sit on a core the other side
// needs.
inline void back_off(unsigned& spins) {
    if (++spins % 64 == 0) {
        std::this_thread::yield();
    } else {
        es::cpu_relax();
    }
}

// The adapters give the three queues one shape: producer(i) and consumer() return handles with
// try_push, push_batch (all n items, retrying), try_pop and try_pop_batch.

// Our two queues share one API, so one adapter serves both.
template <template <class> class Queue>
struct ours {
    Queue<uint64_t> queue{k_capacity};

    struct producer_handle {
        Queue<uint64_t>& q;
        bool try_push(uint64_t v) { return q.try_push(v); }
        void push_batch(uint64_t* items, size_t n) {
            unsigned spins = 0;
            for (size_t done = 0; done < n;) {
                const size_t got = q.try_push_batch(items + done, n - done);
                if (got == 0) back_off(spins);
                done += got;
            }
        }
    };
    struct consumer_handle {
        Queue<uint64_t>& q;
        bool try_pop(uint64_t& v) { return q.try_pop(v); }
        size_t try_pop_batch(uint64_t* out, size_t max) { return q.try_pop_batch(out, max); }
    };

    explicit ours(int producers) {}
    producer_handle producer(int) { return {queue}; }
    consumer_handle consumer() { return {queue}; }
};
// The aliases keep the benchmark names (bm_transfer<ours_spsc>, ...) of earlier runs.
using ours_spsc = ours<es::core::spsc_queue>;
using ours_mpsc = ours<es::core::mpsc_queue>;

struct moodycamel_cq {
    using queue_type = moodycamel::ConcurrentQueue<uint64_t>;
    queue_type queue{k_capacity};
    std::vector<std::unique_ptr<moodycamel::ProducerToken>> tokens;
    moodycamel::ConsumerToken consumer_token{queue};

    struct producer_handle {
        queue_type& q;
        moodycamel::ProducerToken& token;
        bool try_push(uint64_t v) { return q.try_enqueue(token, v); }
        void push_batch(uint64_t* items, size_t n) {
            unsigned spins = 0;
            while (!q.try_enqueue_bulk(token, items, n)) back_off(spins);
        }
    };
    struct consumer_handle {
        queue_type& q;
        moodycamel::ConsumerToken& token;
        bool try_pop(uint64_t& v) { return q.try_dequeue(token, v); }
        size_t try_pop_batch(uint64_t* out, size_t max) {
            return q.try_dequeue_bulk(token, out, max);
        }
    };

    // Each producer gets its share of the bound: warming it up with that many items (enqueue
    // may allocate) grows its block index and gives it its blocks, which it then reuses.
    explicit moodycamel_cq(int producers) {
        const size_t share = k_capacity / static_cast<size_t>(producers);
        for (int p = 0; p < producers; ++p) {
            tokens.push_back(std::make_unique<moodycamel::ProducerToken>(queue));
            for (size_t i = 0; i < share; ++i) queue.enqueue(*tokens.back(), 0);
        }
        uint64_t sink;
        while (queue.try_dequeue(consumer_token, sink)) {
        }
    }
    producer_handle producer(int p) { return {queue, *tokens[static_cast<size_t>(p)]}; }
    consumer_handle consumer() { return {queue, consumer_token}; }
};

// Args: {producers, batch}. batch 1 uses try_push / try_pop; larger ones the batch calls.
template <class Queue>
void bm_transfer(benchmark::State& state) {
    const int producers = static_cast<int>(state.range(0));
    const size_t batch = static_cast<size_t>(state.range(1));
    const uint64_t per_producer = k_items_per_iteration / static_cast<uint64_t>(producers);
    const uint64_t total = per_producer * static_cast<uint64_t>(producers);
    // Producer p sends p * per_producer + i for i in [0, per_producer): the values 0..total-1.
    const uint64_t expected_sum = total * (total - 1) / 2;

    Queue q(producers);
    auto consumer = q.consumer();
    std::vector<uint64_t> out(k_batch_max);
    for (auto _ : state) {
        state.PauseTiming();
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (int p = 0; p < producers; ++p) {
            threads.emplace_back([&, p] {
                auto handle = q.producer(p);
                std::vector<uint64_t> items(batch);
                const uint64_t first = static_cast<uint64_t>(p) * per_producer;
                ready.fetch_add(1, std::memory_order_release);
                while (!go.load(std::memory_order_acquire)) es::cpu_relax();
                if (batch == 1) {
                    unsigned spins = 0;
                    for (uint64_t i = 0; i < per_producer; ++i) {
                        while (!handle.try_push(first + i)) back_off(spins);
                    }
                } else {
                    for (uint64_t i = 0; i < per_producer; i += batch) {
                        const size_t n = std::min<uint64_t>(batch, per_producer - i);
                        for (size_t k = 0; k < n; ++k) items[k] = first + i + k;
                        handle.push_batch(items.data(), n);
                    }
                }
            });
        }
        while (ready.load(std::memory_order_acquire) < producers) std::this_thread::yield();
        state.ResumeTiming();
        go.store(true, std::memory_order_release);

        uint64_t received = 0;
        uint64_t sum = 0;
        unsigned spins = 0;
        while (received < total) {
            size_t got;
            if (batch == 1) {
                got = consumer.try_pop(out[0]) ? 1 : 0;
            } else {
                got = consumer.try_pop_batch(out.data(), batch);
            }
            if (got == 0) {
                back_off(spins);
                continue;
            }
            for (size_t k = 0; k < got; ++k) sum += out[k];
            received += got;
        }
        for (auto& t : threads) t.join();
        benchmark::DoNotOptimize(sum);
        if (sum != expected_sum) {
            state.SkipWithError("checksum mismatch: items lost or duplicated");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(total));
}

// One thread pushes one item and pops it again: the cost of the two operations with every
// cache line already local, which is the floor under any hand-over between threads.
template <class Queue>
void bm_round_trip(benchmark::State& state) {
    Queue q(1);
    auto producer = q.producer(0);
    auto consumer = q.consumer();
    uint64_t v = 0;
    for (auto _ : state) {
        if (!producer.try_push(v)) state.SkipWithError("push failed on an empty queue");
        if (!consumer.try_pop(v)) state.SkipWithError("pop failed after a push");
        benchmark::DoNotOptimize(v);
        ++v;
    }
    state.SetItemsProcessed(state.iterations());
}

template <int Producers>
void transfer_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"producers", "batch"})->Args({Producers, 1})->Args({Producers, k_batch_max});
    b->UseRealTime()->Unit(benchmark::kMillisecond);
}

// SPSC: one producer, one consumer. mpsc_queue with one producer is listed too: it is what a
// partition's ingest queue looks like when a single listener thread feeds it.
BENCHMARK_TEMPLATE(bm_transfer, ours_spsc)->Apply(transfer_args<1>);
BENCHMARK_TEMPLATE(bm_transfer, ours_mpsc)->Apply(transfer_args<1>);
BENCHMARK_TEMPLATE(bm_transfer, moodycamel_cq)->Apply(transfer_args<1>);

// MPSC: two producers, one consumer (oversubscribed on a 2-core machine, see the top).
BENCHMARK_TEMPLATE(bm_transfer, ours_mpsc)->Apply(transfer_args<2>);
BENCHMARK_TEMPLATE(bm_transfer, moodycamel_cq)->Apply(transfer_args<2>);

BENCHMARK_TEMPLATE(bm_round_trip, ours_spsc);
BENCHMARK_TEMPLATE(bm_round_trip, ours_mpsc);
BENCHMARK_TEMPLATE(bm_round_trip, moodycamel_cq);

}  // namespace

BENCHMARK_MAIN();
