// The worker loop: tasks, then batches, then deliveries; park when idle.
#include "core/worker.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <ctime>
#include <thread>

#include "common/cache.h"
#include "core/cpu_affinity.h"

namespace es::core {
namespace {

// How long an idle worker spins on the CPU before it waits by yielding (see loop()).
constexpr int64_t k_busy_spin_ns = 2'000;

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

worker::worker(uint32_t index, const worker_options& options, const clock_source& clock,
               worker_metrics metrics, durable_backend* durable)
    : index_(index),
      options_(options),
      clock_(clock),
      ingest_(options.ingest_queue_bytes),
      control_(1024),
      durable_(durable),
      metrics_(std::move(metrics)) {}

worker::~worker() {
    stop();
}

void worker::start(int cpu) {
    ES_ASSERT(!started_.load());
    started_.store(true);
    thread_ = std::thread([this, cpu] {
        if (cpu >= 0) pin_current_thread(cpu);
        loop();
    });
}

void worker::stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true, std::memory_order_seq_cst);
    wake();
    thread_.join();
    // From here on post() runs tasks in place: the thread that owned the state is gone.
    started_.store(false, std::memory_order_release);
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
    wake_after_commit();
}

void worker::wake_after_commit() noexcept {
    // The claim was a seq_cst read-modify-write of the ring's head, which orders this seq_cst
    // load after it: either park() sees the claimed room on its re-check, or we see parked_.
    if (parked_.load(std::memory_order_seq_cst)) {
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
        if (durable_signal_.load(std::memory_order_relaxed) &&
            durable_signal_.exchange(false, std::memory_order_acq_rel)) {
            busy |= apply_durable_progress();
        }
        if (!waiting_.empty()) busy |= deliver_waiting();
        if (busy) {
            idle_since = 0;
            continue;
        }
        if (stopping_.load(std::memory_order_acquire)) {
            // Drain: stop only once both queues are empty after the stop flag was seen, and
            // every durable batch is on disk with its publisher acked.
            flush_durable(true);
            if (ingest_.empty_approx() && control_.empty_approx() && durable_idle()) break;
            cpu_relax();
            continue;
        }
        if (!gathering_.empty()) flush_durable(false);  // batches whose linger ran out
        const int64_t now = monotonic_ns();
        if (idle_since == 0) {
            idle_since = now;
            retention_tick();
        } else if (prepare_segments()) {
            // Idle time went into mapping the next segment's pages.
        } else if (now - idle_since >= int64_t{options_.spin_before_park_us} * 1000) {
            park();
            idle_since = 0;
        } else if (now - idle_since < k_busy_spin_ns) {
            cpu_relax();
        } else {
            // Past a short busy spin, wait by yielding: a thread that is ready to run on this
            // core (an io thread with requests to read, the load on a small machine) gets it,
            // and when none is the yield returns at once, so the wake-up stays as quick as a
            // spin's. A pure spin would hold the core for the whole spin_before_park_us.
            std::this_thread::yield();
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
    // One clock read per pass: every batch of the pass gets the same append time.
    int64_t now_ns = 0;
    const size_t n = ingest_.consume(
        [&](std::span<std::byte> entry) {
            if (now_ns == 0) now_ns = clock_.now_ns();
            append(entry, now_ns);
        },
        options_.ingest_pop_batches);
    if (n == 0) return false;
    // Durable batches go to the disk at the end of the pass (or once they linger long
    // enough), so that one write carries every batch the pass took.
    if (!gathering_.empty()) flush_durable(false);
    // Counted once per pass, not per batch.
    metrics_.batches_appended->inc(pass_batches_);
    metrics_.events_appended->inc(pass_events_);
    pass_batches_ = 0;
    pass_events_ = 0;
    // Deliver once per pass rather than once per batch: subscribers get larger chunks, and
    // the worker's cost per small batch drops (the batching a busy Disruptor consumer does).
    for (memory_partition* p : appended_) {
        p->has_new_events = false;
        for (cursor* c : p->cursors) {
            if (!c->waiting_for_credit) deliver(*p, *c);
        }
    }
    appended_.clear();
    if (n == options_.ingest_pop_batches) retention_tick();  // a busy worker still ages
    return true;
}

void worker::append(std::span<const std::byte> entry, int64_t now_ns) {
    ingest_header h = read_ingest_header(entry.data());
    if (h.count == 0) return;  // room the dispatcher claimed and gave back (dispatcher.cc)
    publish_outcome out;
    out.partition = h.partition;
    out.count = h.count;
    memory_partition* p = nullptr;
    if (h.slot < slots_.size() && slots_[h.slot].generation == h.generation) {
        p = slots_[h.slot].partition;
    }
    if (p == nullptr) {  // the topic was deleted after this batch was routed
        out.code = errc::not_found;
        h.completion(out);
        return;
    }
    ingest_events batch = ingest_events::of(h, entry);
    if (h.producer_id != 0 && !admit_producer_batch(*p, h, batch, out)) return;
    const uint64_t base = p->end_offset();
    if (p->durable != nullptr) {
        append_durable(*p, batch, h, out, now_ns);
    } else if (batch.borrowed) {
        out.base_offset = p->append(batch.events, now_ns);
    } else {
        out.base_offset = p->append(batch.run, now_ns);
    }
    if (h.producer_id != 0 && p->end_offset() > base) {
        p->producers.appended(h.producer_id, h.sequence, h.count, base,
                              static_cast<uint64_t>(now_ns));
    }
    if (p->durable != nullptr) return;
    pass_batches_++;
    pass_events_ += h.count;
    h.completion(out);
    if (!p->has_new_events && !p->cursors.empty()) {
        p->has_new_events = true;
        appended_.push_back(p);
    }
}

bool worker::admit_producer_batch(memory_partition& p, ingest_header& h, ingest_events& batch,
                                  publish_outcome& out) {
    const auto v = p.producers.check(h.producer_id, h.sequence, h.count);
    if (v.what == producer_table::verdict::append) return true;
    if (v.what == producer_table::verdict::out_of_order) {
        // Events between the expected number and this batch never arrived: refuse, so that
        // the producer resends from where the partition is.
        out.code = errc::invalid_argument;
        h.completion(out);
        return false;
    }
    if (h.sequence + h.count > v.expected_sequence) {
        // Straddles the next expected number: a retry cut into batches differently from the
        // first send. Its head was appended then; the rest is new and goes in now (dropping
        // the whole batch as a duplicate would lose it, acknowledged).
        const auto head = static_cast<uint32_t>(v.expected_sequence - h.sequence);
        out.duplicate_head = head;
        out.head_known_offset = v.known_offset;
        out.head_base_offset = v.known_offset ? v.base_offset : 0;
        batch.drop_front(head);
        h.sequence += head;
        h.count -= head;
        return true;
    }
    out.duplicate = true;
    out.known_offset = v.known_offset;
    out.base_offset = v.known_offset ? v.base_offset : 0;
    durable_partition* d = p.durable;
    if (d != nullptr && h.completion) {
        // The first copy may not be on disk yet: answer once everything appended so far is.
        // Behind any answer still waiting, too: a partition's answers keep the order of its
        // batches (a PUBLISH appended in parts is acknowledged part by part, in order). A
        // waiting answer is only ever answered by a write's progress, so one that nothing
        // written is still to cover goes at once.
        const uint64_t until = v.known_offset ? v.base_offset + h.count : p.end_offset();
        if (until > d->visible_end || !d->acks.empty()) {
            d->acks.push_back({p.end_offset(), h.completion, out});
            acks_outstanding_++;
            return false;
        }
    }
    h.completion(out);
    return false;
}

void worker::append_durable(memory_partition& p, const ingest_events& batch, const ingest_header& h,
                            publish_outcome out, int64_t now_ns) {
    durable_partition& d = *p.durable;
    if (d.failure == errc::ok) d.failure = d.progress->failure.load(std::memory_order_acquire);
    if (d.failure != errc::ok) {  // the disk failed this partition: refuse, do not append
        out.code = d.failure;
        h.completion(out);
        return;
    }
    size_t bytes = batch.run.bytes;
    if (batch.borrowed) {
        bytes = 0;
        for (const event_in& e : batch.events) bytes += encoded_size(e);
    }
    if (!d.pending) {
        d.pending = std::make_unique<durable_write>();
        d.pending->topic_id = d.topic_id;
        d.pending->partition = d.partition;
        d.pending->base_offset = p.end_offset();
        d.pending->progress = d.progress;
        d.pending->records.reserve(
            std::min<size_t>(options_.durable.batch_bytes_max + bytes, 4 << 20));
        d.pending_since_ns = monotonic_ns();
        if (!d.gathering) {
            d.gathering = true;
            gathering_.push_back(&p);
        }
    }
    // The copy for the disk gets its offsets and timestamps here; the ring then appends that
    // stamped copy, so both hold the same bytes.
    std::vector<std::byte>& buf = d.pending->records;
    const size_t at = buf.size();
    if (batch.borrowed) {
        buf.resize(at + bytes);
        std::byte* q = buf.data() + at;
        for (const event_in& e : batch.events) q += encode_record(e, q);
    } else {
        buf.insert(buf.end(), batch.run.data, batch.run.data + batch.run.bytes);
    }
    const record_run run{buf.data() + at, buf.size() - at, h.count};
    uint64_t offset = p.end_offset();
    for (std::byte *q = buf.data() + at, *end = buf.data() + buf.size(); q < end;) {
        store_le<uint64_t>(q + record_field::offset, offset++);
        if (load_le<int64_t>(q + record_field::timestamp_ns) == 0) {
            store_le<int64_t>(q + record_field::timestamp_ns, now_ns);
        }
        q += load_le<uint32_t>(q + record_field::record_bytes);
    }
    out.base_offset = p.append(run, now_ns);
    d.pending->count += run.count;
    if (h.producer_id != 0) {
        d.pending->producers.push_back({h.producer_id, h.sequence, h.count, out.base_offset});
    }
    pass_batches_++;
    pass_events_ += h.count;
    if (h.completion) {
        d.acks.push_back({out.base_offset + run.count, h.completion, out});
        acks_outstanding_++;
    }
    if (d.pending->count >= options_.durable.batch_events_max ||
        buf.size() >= options_.durable.batch_bytes_max) {
        flush_durable_one(p);
    }
}

void worker::flush_durable_one(memory_partition& p) {
    durable_partition& d = *p.durable;
    if (d.pending) durable_->write(std::move(d.pending));
}

void worker::flush_durable(bool all) {
    const int64_t linger_ns = int64_t{options_.durable.linger_us} * 1000;
    const int64_t now = linger_ns > 0 && !all ? monotonic_ns() : 0;
    auto keep = gathering_.begin();
    for (memory_partition* p : gathering_) {
        durable_partition& d = *p->durable;
        if (d.pending && !all && linger_ns > 0 && now - d.pending_since_ns < linger_ns) {
            *keep++ = p;
            continue;
        }
        flush_durable_one(*p);
        d.gathering = false;
    }
    gathering_.erase(keep, gathering_.end());
}

bool worker::apply_durable_progress() {
    bool progressed = false;
    for (memory_partition* p : durable_partitions_) {
        durable_partition& d = *p->durable;
        if (d.failure == errc::ok) d.failure = d.progress->failure.load(std::memory_order_acquire);
        const uint64_t durable_end = d.progress->durable_end.load(std::memory_order_acquire);
        const bool advanced = durable_end > d.visible_end;
        if (advanced) d.visible_end = durable_end;
        while (!d.acks.empty() &&
               (d.acks.front().end_offset <= d.visible_end || d.failure != errc::ok)) {
            pending_ack a = d.acks.front();
            d.acks.pop_front();
            acks_outstanding_--;
            if (a.end_offset > d.visible_end) a.outcome.code = d.failure;
            a.completion(a.outcome);
            progressed = true;
        }
        if (d.failure != errc::ok) d.pending.reset();
        if (advanced) {
            progressed = true;
            for (cursor* c : p->cursors) {
                if (!c->waiting_for_credit) deliver(*p, *c);
            }
        }
    }
    return progressed;
}

bool worker::durable_idle() const noexcept {
    return gathering_.empty() && acks_outstanding_ == 0;
}

void worker::request_disk_read(memory_partition& p, cursor& c, const delivery_credit& credit) {
    durable_partition& d = *p.durable;
    c.disk_read_pending = true;
    // Read only what the ring does not hold; from its start on the ring serves.
    const uint64_t behind = p.start_offset() - c.next_offset;
    const auto max_events = static_cast<uint32_t>(
        std::min<uint64_t>({credit.events, options_.deliver_events_max, behind}));
    const size_t max_bytes = std::min<uint64_t>(credit.bytes, options_.deliver_bytes_max);
    metrics_.disk_reads->inc();
    durable_->read(d.topic_id, d.partition, c.next_offset, max_events, max_bytes,
                   [this, slot = d.slot, generation = d.generation,
                    id = c.subscription_id](result<durable_chunk> r) {
                       // On the backend's reader thread: hand the chunk to the worker.
                       auto chunk = std::make_shared<result<durable_chunk>>(std::move(r));
                       post([this, slot, generation, id, chunk] {
                           if (stopping_.load(std::memory_order_acquire) &&
                               !started_.load(std::memory_order_acquire)) {
                               return;  // the worker is gone; nobody waits for it
                           }
                           on_disk_chunk(slot, generation, id, std::move(*chunk));
                       });
                   });
}

void worker::on_disk_chunk(uint32_t slot, uint32_t generation, uint64_t subscription_id,
                           result<durable_chunk> r) {
    if (slot >= slots_.size() || slots_[slot].partition == nullptr ||
        slots_[slot].generation != generation) {
        return;  // the topic was deleted meanwhile
    }
    memory_partition& p = *slots_[slot].partition;
    cursor* c = nullptr;
    for (cursor* x : p.cursors) {
        if (x->subscription_id == subscription_id) c = x;
    }
    if (c == nullptr) return;  // unsubscribed meanwhile
    c->disk_read_pending = false;
    auto wait = [&] {
        if (!c->waiting_for_credit) {
            c->waiting_for_credit = true;
            waiting_.emplace_back(&p, c);
        }
    };
    if (!r) {
        // The read failed; the events are still on disk, so try again on the next poll
        // rather than report a gap.
        metrics_.disk_read_errors->inc();
        wait();
        return;
    }
    durable_chunk& chunk = *r;
    if (chunk.start_offset > c->next_offset) {
        // Retention removed them from the disk before this subscriber read them.
        c->sink->on_gap(c->partition, c->next_offset, chunk.start_offset - 1);
        metrics_.gaps->inc();
        c->next_offset = chunk.start_offset;
    }
    if (chunk.count > 0 && chunk.from == c->next_offset) {
        // Hand over as much as the subscriber's credit takes now (it only grew since the read
        // was asked for, unless a record is larger than the bytes it grants).
        const delivery_credit credit = c->sink->credit(c->partition);
        record_run run{chunk.records.data(), 0, 0};
        const std::byte* q = chunk.records.data();
        while (run.count < chunk.count && run.count < credit.events) {
            const auto size = load_le<uint32_t>(q + run.bytes);
            if (run.bytes + size > credit.bytes) break;
            run.bytes += size;
            run.count++;
        }
        if (run.count == 0) {
            wait();
            return;
        }
        c->sink->on_events(c->partition, run);
        metrics_.events_delivered->inc(run.count);
        c->next_offset += run.count;
    }
    deliver(p, *c);
}

bool worker::deliver(memory_partition& p, cursor& c) {
    bool delivered = false;
    if (c.disk_read_pending) return false;
    // A durable partition delivers only what is on disk; the ring may hold more.
    const bool durable = p.durable != nullptr;
    while (c.next_offset < (durable ? p.durable->visible_end : p.end_offset())) {
        delivery_credit credit = c.sink->credit(c.partition);
        if (credit.events == 0 || credit.bytes == 0) {
            if (!c.waiting_for_credit) {
                c.waiting_for_credit = true;
                waiting_.emplace_back(&p, &c);
            }
            return delivered;
        }
        if (c.next_offset < p.start_offset() && durable) {
            // Behind the ring, not lost: they are on disk.
            request_disk_read(p, c, credit);
            return delivered;
        }
        if (c.next_offset < p.start_offset()) {
            // The events it had not read yet have left the partition: say so, then go on from
            // the oldest one still held.
            c.sink->on_gap(c.partition, c.next_offset, p.start_offset() - 1);
            metrics_.gaps->inc();
            c.next_offset = p.start_offset();
            delivered = true;
            continue;
        }
        auto max_events = std::min<uint32_t>(credit.events, options_.deliver_events_max);
        if (durable) {
            max_events = static_cast<uint32_t>(
                std::min<uint64_t>(max_events, p.durable->visible_end - c.next_offset));
        }
        const size_t max_bytes = std::min<uint64_t>(credit.bytes, options_.deliver_bytes_max);
        const record_run run = p.read(c.next_offset, max_events, max_bytes);
        if (run.count == 0) break;
        // read() hands over at least one event even when it is larger than max_bytes; hold it
        // back unless the subscriber can take it whole.
        if (run.bytes > credit.bytes) {
            if (!c.waiting_for_credit) {
                c.waiting_for_credit = true;
                waiting_.emplace_back(&p, &c);
            }
            return delivered;
        }
        c.sink->on_events(c.partition, run);
        const uint32_t n = run.count;
        metrics_.events_delivered->inc(n);
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

bool worker::prepare_segments() {
    // One page per call: a batch that arrives meanwhile waits about a microsecond at most.
    constexpr size_t budget_bytes = 4096;
    for (size_t i = 0; i < partitions_.size(); ++i) {
        memory_partition* p = partitions_[(prepare_next_ + i) % partitions_.size()];
        if (p->prepare_spare(budget_bytes)) {
            prepare_next_ = (prepare_next_ + i) % partitions_.size();
            return true;
        }
    }
    return false;
}

void worker::retention_tick() {
    const int64_t now = clock_.now_ns();
    if (now < next_retention_ns_) return;
    next_retention_ns_ = now + int64_t{options_.retention_tick_ms} * 1'000'000;
    // Sampled here, not per pass: reading the ring's head pulls the producers' cache line.
    metrics_.ingest_queue_bytes->set(static_cast<int64_t>(ingest_.used_bytes_approx()));
    for (memory_partition* p : partitions_) p->trim_by_age(now);
}

void worker::park() {
    const uint32_t seen = wake_word_.load(std::memory_order_acquire);
    parked_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ingest_.empty_approx() && control_.empty_approx() && !stopping_.load() &&
        !durable_signal_.load()) {
        metrics_.parks->inc();
        // Sleep until woken, but not past the next retention tick, and not long while some
        // subscriber waits for credit (a consumer returns credit without waking us) or a
        // durable batch lingers.
        int64_t timeout_ns = int64_t{options_.retention_tick_ms} * 1'000'000;
        if (!waiting_.empty()) timeout_ns = int64_t{options_.credit_poll_us} * 1000;
        if (!gathering_.empty()) {
            timeout_ns = std::min<int64_t>(
                timeout_ns, std::max<int64_t>(int64_t{options_.durable.linger_us} * 1000, 1000));
        }
        futex_wait(wake_word_, seen, timeout_ns);
    }
    parked_.store(false, std::memory_order_relaxed);
}

void worker::adopt_partition(uint32_t slot, uint32_t generation, memory_partition* p) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    ES_ASSERT(slots_[slot].partition == nullptr);
    slots_[slot] = {p, generation};
    partitions_.push_back(p);
    if (p->durable != nullptr) {
        ES_ASSERT(durable_ != nullptr);
        durable_partition& d = *p->durable;
        d.slot = slot;
        d.generation = generation;
        d.visible_end = d.progress->durable_end.load(std::memory_order_acquire);
        d.progress->notify = [this] {
            durable_signal_.store(true, std::memory_order_release);
            wake();
        };
        durable_partitions_.push_back(p);
    }
}

void worker::set_replica_role(uint32_t slot, uint32_t generation, bool leader, uint64_t end_offset,
                              errc refusal, producer_table producers) {
    if (slot >= slots_.size() || slots_[slot].partition == nullptr ||
        slots_[slot].generation != generation) {
        return;  // the topic was deleted meanwhile
    }
    memory_partition& p = *slots_[slot].partition;
    ES_ASSERT(p.durable != nullptr);
    durable_partition& d = *p.durable;
    // Publishers still waiting belong to an earlier term: their batches may or may not be
    // committed by whoever leads now, so they get an error, never a success.
    const errc earlier_term = leader || refusal == errc::ok ? errc::not_leader : refusal;
    while (!d.acks.empty()) {
        pending_ack a = d.acks.front();
        d.acks.pop_front();
        acks_outstanding_--;
        if (a.end_offset > d.visible_end) a.outcome.code = earlier_term;
        a.completion(a.outcome);
    }
    d.pending.reset();
    if (!leader) {
        d.failure = refusal;
        return;
    }
    // A fresh progress: writes of the earlier term still in flight report into the old one.
    d.progress = std::make_shared<durable_progress>();
    d.progress->durable_end.store(end_offset, std::memory_order_relaxed);
    d.progress->notify = [this] {
        durable_signal_.store(true, std::memory_order_release);
        wake();
    };
    d.failure = errc::ok;
    d.visible_end = end_offset;
    p.reset_to(end_offset);
    p.producers = std::move(producers);
    for (cursor* c : p.cursors) {
        // A cursor never passed what was committed, which is all in end_offset; from there on
        // the ring serves, and below the ring's start the disk does.
        if (c->next_offset > end_offset) c->next_offset = end_offset;
        if (!c->waiting_for_credit) deliver(p, *c);
    }
}

void worker::drop_partition(uint32_t slot) {
    ES_ASSERT(slot < slots_.size() && slots_[slot].partition != nullptr);
    memory_partition* p = slots_[slot].partition;
    // Batches routed before the delete still name this slot with the old generation; with no
    // partition here (or a new generation once the slot is reused) they are refused.
    slots_[slot].partition = nullptr;
    std::vector<uint64_t> ids;
    for (const cursor* c : p->cursors) ids.push_back(c->subscription_id);
    for (uint64_t id : ids) remove_cursors(id);
    partitions_.erase(std::remove(partitions_.begin(), partitions_.end(), p), partitions_.end());
    if (p->durable != nullptr) {
        // Publishers still waiting hear that the topic is gone; a write in flight finishes
        // into a column family that the engine drops next.
        durable_partition& d = *p->durable;
        for (pending_ack& a : d.acks) {
            a.outcome.code = errc::not_found;
            a.completion(a.outcome);
        }
        acks_outstanding_ -= d.acks.size();
        d.acks.clear();
        d.pending.reset();
        auto drop = [p](std::vector<memory_partition*>& v) {
            v.erase(std::remove(v.begin(), v.end(), p), v.end());
        };
        drop(durable_partitions_);
        drop(gathering_);
        d.gathering = false;
    }
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
