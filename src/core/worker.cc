// The worker loop: tasks, then batches, then deliveries; park when idle.
#include "core/worker.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <ctime>

#include "common/cache.h"
#include "core/cpu_affinity.h"

namespace es::core {
namespace {

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, int64_t timeout_ns) {
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                static_cast<long>(timeout_ns % 1'000'000'000)};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            timeout_ns > 0 ? &ts : nullptr, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>& word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
}

}  // namespace

worker::worker(uint32_t index, const worker_options& options, const clock_source& clock)
    : index_(index),
      options_(options),
      clock_(clock),
      ingest_(options.ingest_queue_batches),
      control_(1024),
      view_buffer_(options.deliver_events_max),
      pop_buffer_(options.ingest_pop_batches) {}

worker::~worker() {
    stop();
}

void worker::start(int cpu) {
    ES_ASSERT(!started_.load());
    started_.store(true);
    thread_ = std::thread([this, cpu] {
        if (cpu >= 0)
            pin_current_thread(cpu);
        loop();
    });
}

void worker::stop() {
    if (!thread_.joinable())
        return;
    stopping_.store(true, std::memory_order_seq_cst);
    wake();
    thread_.join();
    // From here on post() runs tasks in place: the thread that owned the state is gone.
    started_.store(false, std::memory_order_release);
}

bool worker::try_enqueue(std::unique_ptr<event_batch>& batch) {
    if (!ingest_.try_push(std::move(batch)))
        return false;
    wake();
    return true;
}

void worker::post(task t) {
    if (!started_.load(std::memory_order_acquire)) {
        t();
        return;
    }
    control_.push(std::make_unique<task>(std::move(t)));
    wake();
}

void worker::wake() noexcept {
    // Pairs with the fence in park(): either the worker sees our queued item on its re-check,
    // or we see parked_ and wake it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (parked_.load(std::memory_order_relaxed)) {
        wake_word_.fetch_add(1, std::memory_order_release);
        futex_wake(wake_word_);
    }
}

void worker::loop() {
    next_retention_ns_ = clock_.now_ns() + int64_t{options_.retention_tick_ms} * 1'000'000;
    int64_t idle_since = 0;
    for (;;) {
        bool busy = run_tasks();
        busy |= run_ingest();
        if (!waiting_.empty())
            busy |= deliver_waiting();
        if (busy) {
            idle_since = 0;
            continue;
        }
        if (stopping_.load(std::memory_order_acquire)) {
            // Drain: stop only once both queues are empty after the stop flag was seen.
            if (ingest_.empty_approx() && control_.empty_approx())
                break;
            continue;
        }
        const int64_t now = monotonic_ns();
        if (idle_since == 0) {
            idle_since = now;
            retention_tick();
        } else if (now - idle_since >= int64_t{options_.spin_before_park_us} * 1000) {
            park();
            idle_since = 0;
        } else {
            cpu_relax();
        }
    }
}

bool worker::run_tasks() {
    std::unique_ptr<task> t;
    bool ran = false;
    while (control_.try_pop(t)) {
        (*t)();
        ran = true;
    }
    return ran;
}

bool worker::run_ingest() {
    const size_t n = ingest_.try_pop_batch(pop_buffer_.data(), pop_buffer_.size());
    for (size_t i = 0; i < n; ++i)
        append(std::move(pop_buffer_[i]));
    if (n == pop_buffer_.size())
        retention_tick();  // a busy worker still ages its partitions
    return n > 0;
}

void worker::append(std::unique_ptr<event_batch> batch) {
    memory_partition* p = batch->target;
    publish_outcome out;
    out.partition = batch->partition;
    out.count = batch->count();
    if (p->removed) {
        out.code = errc::not_found;
        batch->completion(out);
        return;
    }
    out.base_offset = p->append(*batch, clock_.now_ns());
    stats_.batches.fetch_add(1, std::memory_order_relaxed);
    stats_.events_appended.fetch_add(out.count, std::memory_order_relaxed);
    batch->completion(out);
    for (cursor* c : p->cursors) {
        if (!c->waiting_for_credit)
            deliver(*p, *c);
    }
}

bool worker::deliver(memory_partition& p, cursor& c) {
    bool delivered = false;
    while (c.next_offset < p.end_offset()) {
        delivery_credit credit = c.sink->credit(c.partition);
        if (credit.events == 0 || credit.bytes == 0) {
            if (!c.waiting_for_credit) {
                c.waiting_for_credit = true;
                waiting_.emplace_back(&p, &c);
            }
            return delivered;
        }
        if (c.next_offset < p.start_offset()) {
            // The events it had not read yet have left the partition: say so, then go on from
            // the oldest one still held.
            c.sink->on_gap(c.partition, c.next_offset, p.start_offset() - 1);
            stats_.gaps.fetch_add(1, std::memory_order_relaxed);
            c.next_offset = p.start_offset();
            delivered = true;
            continue;
        }
        const size_t max_events = std::min<size_t>(credit.events, view_buffer_.size());
        const size_t max_bytes = std::min<uint64_t>(credit.bytes, options_.deliver_bytes_max);
        const size_t n =
            p.read(c.next_offset, std::span(view_buffer_.data(), max_events), max_bytes);
        if (n == 0)
            break;
        // read() hands over at least one event even when it is larger than max_bytes; hold it
        // back unless the subscriber can take it whole.
        if (n == 1 && view_buffer_[0].record.size() > credit.bytes) {
            if (!c.waiting_for_credit) {
                c.waiting_for_credit = true;
                waiting_.emplace_back(&p, &c);
            }
            return delivered;
        }
        c.sink->on_events(c.partition, std::span<const event_view>(view_buffer_.data(), n));
        stats_.events_delivered.fetch_add(n, std::memory_order_relaxed);
        c.next_offset += n;
        delivered = true;
    }
    return delivered;
}

bool worker::deliver_waiting() {
    bool delivered = false;
    // Take the list: deliver() re-adds the cursors still short of credit.
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto [p, c] : waiting) {
        c->waiting_for_credit = false;
        delivered |= deliver(*p, *c);
    }
    return delivered;
}

void worker::retention_tick() {
    const int64_t now = clock_.now_ns();
    if (now < next_retention_ns_)
        return;
    next_retention_ns_ = now + int64_t{options_.retention_tick_ms} * 1'000'000;
    for (memory_partition* p : partitions_)
        p->trim_by_age(now);
}

void worker::park() {
    const uint32_t seen = wake_word_.load(std::memory_order_acquire);
    parked_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ingest_.empty_approx() && control_.empty_approx() && !stopping_.load()) {
        stats_.parks.fetch_add(1, std::memory_order_relaxed);
        // Sleep until woken, but not past the next retention tick, and not long while some
        // subscriber waits for credit (a consumer returns credit without waking us).
        int64_t timeout_ns = int64_t{options_.retention_tick_ms} * 1'000'000;
        if (!waiting_.empty())
            timeout_ns = int64_t{options_.credit_poll_us} * 1000;
        futex_wait(wake_word_, seen, timeout_ns);
    }
    parked_.store(false, std::memory_order_relaxed);
}

void worker::adopt_partition(memory_partition* p) {
    partitions_.push_back(p);
}

void worker::drop_partition(memory_partition* p) {
    p->removed = true;
    std::vector<uint64_t> ids;
    for (const cursor* c : p->cursors)
        ids.push_back(c->subscription_id);
    for (uint64_t id : ids)
        remove_cursors(id);
    partitions_.erase(std::remove(partitions_.begin(), partitions_.end(), p), partitions_.end());
}

void worker::add_cursor(memory_partition* p, std::unique_ptr<cursor> c) {
    cursor* raw = c.get();
    cursors_.push_back(std::move(c));
    p->cursors.push_back(raw);
    deliver(*p, *raw);  // catch up at once when it starts behind the end
}

void worker::remove_cursors(uint64_t subscription_id) {
    auto gone = [subscription_id](const cursor* c) {
        return c->subscription_id == subscription_id;
    };
    waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                  [&](const auto& w) { return gone(w.second); }),
                   waiting_.end());
    for (memory_partition* p : partitions_) {
        p->cursors.erase(std::remove_if(p->cursors.begin(), p->cursors.end(), gone),
                         p->cursors.end());
    }
    cursors_.erase(std::remove_if(cursors_.begin(), cursors_.end(),
                                  [&](const std::unique_ptr<cursor>& c) { return gone(c.get()); }),
                   cursors_.end());
}

}  // namespace es::core
