// The store service: group commit on the writer thread, catch-up reads on the reader thread.
#include "storage/store_service.h"

#include <pthread.h>

#include <algorithm>

#include "common/assert.h"
#include "common/clock.h"

namespace es::storage {
namespace {

template <class T>
std::shared_ptr<T> registered(result<std::shared_ptr<T>> r) {
    // Our names are fixed: a refusal is a programming error.
    ES_ASSERT_MSG(r.has_value(), r.has_value() ? "" : r.err().message.c_str());
    return std::move(r).value();
}

}  // namespace

const char* fsync_policy_name(fsync_policy p) noexcept {
    switch (p) {
        case fsync_policy::always:
            return "always";
        case fsync_policy::interval:
            return "interval";
        case fsync_policy::never:
            return "never";
    }
    return "?";
}

result<fsync_policy> parse_fsync_policy(std::string_view text) {
    if (text == "always") return fsync_policy::always;
    if (text == "interval") return fsync_policy::interval;
    if (text == "never") return fsync_policy::never;
    return make_error(errc::invalid_argument,
                      "fsync must be always, interval or never; got '" + std::string(text) + "'");
}

store_service::store_service(log_store& store, store_service_options options,
                             metrics::registry* registry)
    : store_(store), options_(options) {
    if (registry != nullptr) {
        writes_total_ = registered(registry->add_counter(
            "eventstream_store_writes_total",
            "RocksDB writes of durable batches (one write groups the batches of many "
            "partitions)."));
        batches_total_ = registered(registry->add_counter("eventstream_store_batches_total",
                                                          "Durable batches written to the store."));
        bytes_total_ = registered(registry->add_counter("eventstream_store_bytes_total",
                                                        "Bytes of records written to the store."));
        syncs_total_ = registered(registry->add_counter(
            "eventstream_store_syncs_total", "WAL fsyncs made for the interval fsync policy."));
        errors_total_ = registered(registry->add_counter(
            "eventstream_store_errors_total", "Failed store writes, reads and retention runs."));
        reads_total_ = registered(registry->add_counter(
            "eventstream_store_reads_total",
            "Reads from the store for subscribers behind a partition's memory ring."));
        write_latency_ns_ = registered(registry->add_histogram(
            "eventstream_store_write_latency_ns",
            "Time of one grouped store write, including its fsync when the policy is always "
            "(ns)."));
    } else {
        writes_total_ = std::make_shared<metrics::counter>();
        batches_total_ = std::make_shared<metrics::counter>();
        bytes_total_ = std::make_shared<metrics::counter>();
        syncs_total_ = std::make_shared<metrics::counter>();
        errors_total_ = std::make_shared<metrics::counter>();
        reads_total_ = std::make_shared<metrics::counter>();
        write_latency_ns_ = std::make_shared<metrics::histogram>();
    }
}

store_service::~store_service() {
    stop();
}

void store_service::start() {
    ES_ASSERT(!started_);
    started_ = true;
    if (auto all = store_.topics()) {
        std::lock_guard lock(topics_mutex_);
        for (const stored_topic& t : *all) topics_[t.id] = t.config;
    }
    writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "es-store-write");
        writer_loop();
    });
    reader_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "es-store-read");
        reader_loop();
    });
    if (options_.fsync == fsync_policy::interval) {
        syncer_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "es-store-sync");
            syncer_loop();
        });
    }
}

void store_service::stop() {
    if (!started_) return;
    {
        std::lock_guard lock(write_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    writer_wake_.notify_all();
    room_.notify_all();
    writer_.join();
    if (syncer_.joinable()) {
        {
            std::lock_guard lock(write_mutex_);
            syncer_stopping_ = true;
        }
        syncer_wake_.notify_all();
        syncer_.join();  // after its last fsync
    }
    {
        std::lock_guard lock(read_mutex_);
        reads_stopping_ = true;
    }
    reader_wake_.notify_all();
    reader_.join();
}

// --- control plane ---

result<std::vector<core::durable_topic>> store_service::topics() {
    auto all = store_.topics();
    if (!all) return std::move(all).err();
    std::vector<core::durable_topic> out;
    for (stored_topic& t : *all) out.push_back({std::move(t.config), t.id});
    return out;
}

uint64_t store_service::next_topic_id() {
    return store_.next_topic_id();
}

status store_service::create_topic(const core::durable_topic& t) {
    ES_TRY(store_.put_topic({t.config, t.id}));
    std::lock_guard lock(topics_mutex_);
    topics_[t.id] = t.config;
    return {};
}

status store_service::drop_topic(uint64_t topic_id) {
    {
        std::lock_guard lock(topics_mutex_);
        topics_.erase(topic_id);
    }
    // Through the writer, after every batch of the topic already queued.
    return submit([this, topic_id] { return store_.drop_topic(topic_id); });
}

result<core::durable_bounds> store_service::bounds(uint64_t topic_id, uint32_t partition) {
    auto b = store_.bounds(topic_id, partition);
    if (!b) return std::move(b).err();
    return core::durable_bounds{b->start_offset, b->end_offset, b->stored_bytes};
}

result<std::optional<core::event_record>> store_service::lookup(uint64_t topic_id,
                                                                uint32_t partition,
                                                                uint64_t offset) {
    return store_.lookup(topic_id, partition, offset);
}

result<uint64_t> store_service::offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                                     int64_t ts_ns) {
    return store_.offset_for_timestamp(topic_id, partition, ts_ns);
}

status store_service::commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                                    uint64_t offset) {
    const bool sync = options_.fsync == fsync_policy::always;
    return submit([this, topic_id, g = std::string(group), partition, offset, sync] {
        return store_.commit_offset(topic_id, g, partition, offset, sync);
    });
}

result<std::optional<uint64_t>> store_service::committed_offset(uint64_t topic_id,
                                                                std::string_view group,
                                                                uint32_t partition) {
    return store_.committed_offset(topic_id, group, partition);
}

status store_service::submit(std::function<status()> run) {
    auto item = std::make_unique<control_item>();
    item->run = std::move(run);
    auto done = item->done.get_future();
    {
        std::lock_guard lock(write_mutex_);
        if (!started_ || stopping_) {
            // No writer (before start or after stop): run it here, in order with nothing.
            return item->run();
        }
        control_.push_back(std::move(item));
    }
    writer_wake_.notify_one();
    return done.get();
}

// --- data plane ---

void store_service::write(std::unique_ptr<core::durable_write> w) {
    ES_ASSERT(started_);
    const size_t bytes = w->records.size();
    {
        std::unique_lock lock(write_mutex_);
        // Back-pressure: wait for room, but always let one batch in so that a batch larger
        // than the whole bound still goes.
        room_.wait(lock, [&] {
            return queued_bytes_ == 0 || queued_bytes_ + bytes <= options_.write_queue_bytes_max ||
                   stopping_;
        });
        queued_bytes_ += bytes;
        writes_.push_back(std::move(w));
    }
    writer_wake_.notify_one();
}

void store_service::read(uint64_t topic_id, uint32_t partition, uint64_t from, uint32_t max_events,
                         size_t max_bytes, std::function<void(result<core::durable_chunk>)> done) {
    {
        std::lock_guard lock(read_mutex_);
        if (reads_.size() < options_.read_queue_max && !reads_stopping_) {
            reads_.push_back({topic_id, partition, from, max_events, max_bytes, std::move(done)});
            reader_wake_.notify_one();
            return;
        }
    }
    done(make_error(errc::queue_full, "the store's read queue is full"));
}

void store_service::writer_loop() {
    using clock = std::chrono::steady_clock;
    const auto retention_every = std::chrono::milliseconds(options_.retention_check_ms);
    auto next_retention = clock::now() + retention_every;
    std::vector<std::unique_ptr<core::durable_write>> group;
    std::deque<std::unique_ptr<control_item>> controls;
    for (;;) {
        bool exit = false;
        {
            std::unique_lock lock(write_mutex_);
            writer_wake_.wait_until(lock, next_retention, [&] {
                return !writes_.empty() || !control_.empty() || stopping_;
            });
            // Everything queued goes in one write: the batches that arrived while the last
            // write (and its fsync) ran are grouped, which is what makes fsync=always cheap
            // per event under load.
            group.swap(writes_);
            controls.swap(control_);
            size_t bytes = 0;
            for (const auto& w : group) bytes += w->records.size();
            queued_bytes_ -= bytes;
            exit = stopping_ && group.empty() && controls.empty();
        }
        room_.notify_all();
        if (!group.empty()) {
            write_group(group);
            group.clear();
            unsynced_writes_.fetch_add(1, std::memory_order_release);
        }
        for (auto& c : controls) c->done.set_value(c->run());
        controls.clear();
        const auto now = clock::now();
        if (now >= next_retention) {
            run_retention();
            next_retention = now + retention_every;
        }
        if (exit) break;
    }
}

void store_service::syncer_loop() {
    const auto every = std::chrono::milliseconds(options_.fsync_interval_ms);
    for (;;) {
        bool exit = false;
        {
            std::unique_lock lock(write_mutex_);
            exit = syncer_wake_.wait_for(lock, every, [&] { return syncer_stopping_; });
        }
        // On exit the writer has already stopped (stop() joins it first), so this last fsync
        // covers every write.
        if (unsynced_writes_.exchange(0, std::memory_order_acq_rel) > 0) {
            if (!store_.sync()) errors_total_->inc();
            syncs_total_->inc();
        }
        if (exit) return;
    }
}

void store_service::write_group(std::vector<std::unique_ptr<core::durable_write>>& group) {
    std::vector<append_batch> batches;
    batches.reserve(group.size());
    size_t bytes = 0;
    for (const auto& w : group) {
        batches.push_back({w->topic_id, w->partition, w->base_offset,
                           core::record_run{w->records.data(), w->records.size(), w->count}});
        bytes += w->records.size();
    }
    const bool sync = options_.fsync == fsync_policy::always;
    std::vector<status> outcome(group.size());
    const int64_t t0 = monotonic_ns();
    status all = store_.append(batches, sync);
    write_latency_ns_->record(static_cast<uint64_t>(monotonic_ns() - t0));
    writes_total_->inc();
    if (!all && group.size() > 1 && all.err().code != errc::io_error) {
        // One bad batch (a topic dropped while its batch was queued) must not fail the rest:
        // write them one by one.
        for (size_t i = 0; i < batches.size(); ++i) {
            outcome[i] = store_.append(std::span(&batches[i], 1), sync);
            writes_total_->inc();
        }
    } else {
        for (auto& o : outcome) o = all;
    }
    std::vector<core::durable_progress*> touched;
    for (size_t i = 0; i < group.size(); ++i) {
        core::durable_write& w = *group[i];
        core::durable_progress& p = *w.progress;
        if (outcome[i]) {
            batches_total_->inc();
            bytes_total_->inc(w.records.size());
            // Batches of one partition are written in queue order, so this only grows.
            p.durable_end.store(w.base_offset + w.count, std::memory_order_release);
        } else {
            errors_total_->inc();
            errc expected = errc::ok;
            p.failure.compare_exchange_strong(expected, outcome[i].err().code,
                                              std::memory_order_acq_rel);
        }
        touched.push_back(&p);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (core::durable_progress* p : touched) {
        if (p->notify) p->notify();
    }
}

void store_service::run_retention() {
    std::map<uint64_t, core::topic_config> topics;
    {
        std::lock_guard lock(topics_mutex_);
        topics = topics_;
    }
    const int64_t now = wall_time_ns();
    for (const auto& [id, config] : topics) {
        const int64_t older_than = config.retention_ms > 0
                                       ? now - static_cast<int64_t>(config.retention_ms) * 1'000'000
                                       : 0;
        for (uint32_t p = 0; p < config.partitions; ++p) {
            if (!store_.apply_retention(id, p, config.retention_bytes, older_than)) {
                errors_total_->inc();
            }
        }
    }
}

void store_service::reader_loop() {
    std::vector<std::byte> buffer;
    for (;;) {
        read_request r;
        {
            std::unique_lock lock(read_mutex_);
            reader_wake_.wait(lock, [&] { return !reads_.empty() || reads_stopping_; });
            if (reads_.empty()) return;
            r = std::move(reads_.front());
            reads_.pop_front();
        }
        reads_total_->inc();
        auto got = store_.read(r.topic_id, r.partition, r.from, r.max_events, r.max_bytes, buffer);
        if (!got) {
            errors_total_->inc();
            r.done(std::move(got).err());
            continue;
        }
        core::durable_chunk chunk;
        chunk.start_offset = got->start_offset;
        chunk.from = std::max(r.from, got->start_offset);
        chunk.count = got->count;
        buffer.resize(got->bytes);
        chunk.records = std::move(buffer);
        buffer = {};
        r.done(std::move(chunk));
    }
}

}  // namespace es::storage
