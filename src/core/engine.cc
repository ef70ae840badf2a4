// Engine assembly: workers, placement of partitions, subscriptions.
#include "core/engine.h"

#include <algorithm>
#include <thread>

#include "core/cpu_affinity.h"
#include "core/durable_partition.h"
#include "core/ingest_entry.h"
#include "core/memory_partition.h"
#include "core/segment_pool.h"

namespace es::core {
namespace {

uint32_t choose_worker_count(uint32_t requested) {
    if (requested > 0) return requested;
    const auto cpus = allowed_cpus().size();
    return cpus > 0 ? static_cast<uint32_t>(cpus)
                    : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

std::pair<uint32_t, uint32_t> engine::slot_allocator::allocate() {
    if (free.empty()) {
        generation.push_back(1);
        return {static_cast<uint32_t>(generation.size() - 1), 1};
    }
    const uint32_t slot = free.back();
    free.pop_back();
    return {slot, generation[slot]};
}

void engine::slot_allocator::release(uint32_t slot) {
    generation[slot]++;  // batches still naming the old generation are refused
    free.push_back(slot);
}

engine::engine(engine_options options)
    : options_(options),
      clock_(options.clock ? *options.clock : system_clock_source::instance()),
      metrics_(engine_metrics::create(options.metrics, choose_worker_count(options.workers))),
      workers_([&] {
          std::vector<std::unique_ptr<worker>> w;
          for (uint32_t i = 0; i < metrics_.workers.size(); ++i) {
              w.push_back(std::make_unique<worker>(i, options.worker, clock_, metrics_.workers[i],
                                                   options.durable));
          }
          return w;
      }()),
      segments_(std::make_shared<segment_pool>(memory_partition::max_segment_bytes,
                                               options.segment_pool_bytes)),
      dispatcher_(workers_, metrics_, options.dispatch),
      slots_(workers_.size()) {}

engine::~engine() {
    stop();
}

void engine::start() {
    std::lock_guard lock(admin_mutex_);
    if (started_ || stopped_) return;  // an engine is started once; a stopped one stays so
    started_ = true;
    if (options_.segment_pool_pretouch) segments_->pretouch();
    const auto cpus = allowed_cpus();
    for (auto& w : workers_) {
        int cpu = -1;
        if (options_.pin_workers && !cpus.empty()) cpu = cpus[w->index() % cpus.size()];
        w->start(cpu);
    }
}

void engine::stop() {
    // The admin lock is held throughout, so that no admin call posts a task to a worker that
    // is stopping (it would wait for a thread that is gone); admin calls after stop() run on
    // the caller's thread.
    std::lock_guard lock(admin_mutex_);
    if (stopped_) return;
    stopped_ = true;
    dispatcher_.close();
    for (auto& w : workers_) w->stop();
}

status engine::restore_topics() {
    if (options_.durable == nullptr) return {};
    auto stored = options_.durable->topics();
    if (!stored) return std::move(stored).err();
    std::lock_guard lock(admin_mutex_);
    topics_.reserve_ids_below(options_.durable->next_topic_id());
    for (const durable_topic& dt : *stored) {
        auto t = create_locked(dt.config, dt.id, true);
        if (!t) {
            return make_error(t.err().code, "cannot restore durable topic '" + dt.config.name +
                                                "': " + t.err().message);
        }
    }
    update_admin_gauges();
    return {};
}

result<topic_info> engine::create_topic(const topic_config& config) {
    if (options_.cluster != nullptr) return options_.cluster->create_topic(config);
    std::lock_guard lock(admin_mutex_);
    auto t = create_locked(config, 0, false);
    if (!t) return std::move(t).err();
    update_admin_gauges();
    return info_of(**t);
}

result<topic_ptr> engine::create_locked(const topic_config& config, uint64_t id, bool restored) {
    const bool durable = config.storage == storage_mode::durable;
    if (durable) {
        ES_TRY(validate_topic_config(config));
        if (options_.durable == nullptr) {
            return make_error(errc::not_supported,
                              "storage=durable needs this node's store, which it was started "
                              "without; use storage=memory");
        }
        if (config.replication_factor > 1 && options_.cluster == nullptr) {
            return make_error(errc::invalid_argument,
                              "replication_factor " + std::to_string(config.replication_factor) +
                                  " needs that many nodes, and this node runs alone; use 1");
        }
    }
    // The largest event must fit in one ingest batch of this node.
    const size_t batch_max = workers_[0]->max_entry_bytes() - ingest_header_bytes;
    if (record_size(0, config.max_event_bytes, 0) > batch_max) {
        return make_error(errc::invalid_argument,
                          "max_event_bytes " + std::to_string(config.max_event_bytes) +
                              " is more than this node's ingest queue takes in one batch (" +
                              std::to_string(batch_max - record_header_bytes) +
                              "); lower it or raise ingest_queue_bytes");
    }
    const auto worker_count = static_cast<uint32_t>(workers_.size());
    // Spread partitions over the workers round-robin across topics, so that many small topics
    // do not all land on worker 0. Each partition takes a slot in its worker's table; the
    // topic becomes visible only once every worker holds its partitions.
    const uint32_t first = next_worker_;
    topic_create_options create;
    create.id = id;
    create.segments = segments_;
    if (durable) {
        // The ring is a cache in front of the disk: it need not hold the whole retention.
        create.ring_bytes = std::max<uint64_t>(
            min_retention_bytes,
            std::min<uint64_t>(config.retention_bytes, options_.worker.durable.cache_bytes));
    }
    auto t = topics_.create(
        config,
        [&](topic& tp) -> status {
            if (durable) {
                if (!restored) ES_TRY(options_.durable->create_topic({config, tp.id}));
                for (uint32_t p = 0; p < config.partitions; ++p) {
                    auto bounds = options_.durable->bounds(tp.id, p);
                    if (!bounds) return std::move(bounds).err();
                    auto d = std::make_unique<durable_partition>();
                    d->topic_id = tp.id;
                    d->partition = p;
                    d->progress->durable_end.store(bounds->end_offset);
                    d->visible_end = bounds->end_offset;
                    tp.partitions[p]->start_at(bounds->end_offset);
                    tp.partitions[p]->durable = d.get();
                    if (options_.cluster != nullptr) {
                        d->gate.refuse(errc::unavailable,
                                       "no leader yet: its replicas are electing one");
                    }
                    tp.durable.push_back(std::move(d));
                }
            }
            for (uint32_t p = 0; p < config.partitions; ++p) {
                const uint32_t wi = (first + p) % worker_count;
                const auto [slot, generation] = slots_[wi].allocate();
                tp.owner_worker.push_back(wi);
                tp.slot.push_back(slot);
                tp.generation.push_back(generation);
                worker& w = *workers_[wi];
                memory_partition* mp = tp.partitions[p].get();
                w.call([&, slot = slot, generation = generation] {
                    w.adopt_partition(slot, generation, mp);
                });
            }
            return {};
        },
        create);
    if (!t) return std::move(t).err();
    next_worker_ = (first + config.partitions) % worker_count;
    return t;
}

result<topic_ptr> engine::create_replicated_topic(const topic_config& config, uint64_t id) {
    ES_ASSERT(options_.cluster != nullptr && id != 0);
    std::lock_guard lock(admin_mutex_);
    if (auto existing = topics_.find(config.name)) {
        if ((*existing)->id == id) return *existing;
        return make_error(errc::already_exists,
                          "topic '" + config.name + "' exists on this node with id " +
                              std::to_string((*existing)->id) + ", not " + std::to_string(id));
    }
    topics_.reserve_ids_below(id);
    auto t = create_locked(config, id, false);
    if (!t) return std::move(t).err();
    update_admin_gauges();
    return t;
}

void engine::set_replica_role(const topic_ptr& t, uint32_t partition, bool leader,
                              uint64_t end_offset, const error& refusal, producer_table producers) {
    ES_ASSERT(partition < t->durable.size());
    durable_partition& d = *t->durable[partition];
    // Refuse first, before the worker drops the old term's state; serve only after the
    // worker has taken the new one (the worker keeps publishes in order either way).
    if (!leader) d.gate.refuse(refusal.code, refusal.message);
    worker& w = *workers_[t->owner_worker[partition]];
    const uint32_t slot = t->slot[partition];
    const uint32_t generation = t->generation[partition];
    auto table = std::make_shared<producer_table>(std::move(producers));
    w.post([&w, t, slot, generation, leader, end_offset, code = refusal.code, partition, table] {
        w.set_replica_role(slot, generation, leader, end_offset, code, std::move(*table));
        if (leader) t->durable[partition]->gate.serve();
    });
}

status engine::delete_topic(std::string_view name) {
    if (options_.cluster != nullptr) return options_.cluster->delete_topic(name);
    std::lock_guard lock(admin_mutex_);
    return delete_locked(name);
}

status engine::delete_local_topic(std::string_view name) {
    std::lock_guard lock(admin_mutex_);
    return delete_locked(name);
}

status engine::delete_locked(std::string_view name) {
    auto t = topics_.remove(name);
    if (!t) return std::move(t).err();
    const topic_ptr& tp = *t;
    for (uint32_t p = 0; p < tp->partitions.size(); ++p) {
        worker& w = *workers_[tp->owner_worker[p]];
        const uint32_t slot = tp->slot[p];
        w.call([&] { w.drop_partition(slot); });
        slots_[tp->owner_worker[p]].release(slot);
    }
    if (!tp->durable.empty()) {
        // The topic is gone from the table and its workers whatever happens here; a store that
        // fails to drop it leaves its column family behind, which the store reports.
        if (auto dropped = options_.durable->drop_topic(tp->id); !dropped) {
            update_admin_gauges();
            return make_error(dropped.err().code,
                              "topic '" + tp->config.name +
                                  "' was deleted, but its data could not be removed from disk: " +
                                  dropped.err().message);
        }
    }
    {
        std::lock_guard g(groups_mutex_);
        auto it = group_offsets_.lower_bound(std::make_tuple(tp->id, std::string(), 0u));
        while (it != group_offsets_.end() && std::get<0>(it->first) == tp->id) {
            it = group_offsets_.erase(it);
        }
    }
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
        if (it->second.topic == tp) {
            it = subscriptions_.erase(it);
        } else {
            ++it;
        }
    }
    update_admin_gauges();
    return {};
}

void engine::update_admin_gauges() {
    const auto all = topics_.list();
    int64_t partitions = 0;
    for (const auto& t : all) partitions += static_cast<int64_t>(t->partitions.size());
    metrics_.topics->set(static_cast<int64_t>(all.size()));
    metrics_.partitions->set(partitions);
    metrics_.subscriptions->set(static_cast<int64_t>(subscriptions_.size()));
}

topic_info engine::info_of(const topic& t) const {
    topic_info info;
    info.config = t.config;
    info.id = t.id;
    for (uint32_t p = 0; p < t.partitions.size(); ++p) {
        const memory_partition& mp = *t.partitions[p];
        partition_info pi{p, t.owner_worker[p], mp.start_offset_approx(), mp.end_offset_approx(),
                          mp.stored_bytes_approx()};
        if (!t.durable.empty()) {
            // What is on disk: the ring holds only recent events, and events not yet durable
            // are not part of the log until they are.
            if (auto b = options_.durable->bounds(t.id, p)) {
                pi.start_offset = b->start_offset;
                pi.end_offset = b->end_offset;
                pi.stored_bytes = b->stored_bytes;
            }
        }
        info.partitions.push_back(pi);
    }
    return info;
}

std::vector<topic_info> engine::list_topics() const {
    std::vector<topic_info> out;
    for (const auto& t : topics_.list()) out.push_back(info_of(*t));
    return out;
}

result<topic_info> engine::describe_topic(std::string_view name) const {
    auto t = topics_.find(name);
    if (!t) return std::move(t).err();
    return info_of(**t);
}

result<topic_ptr> engine::find_topic(std::string_view name) const {
    return topics_.find(name);
}

result<start_position> engine::resolve_start(const topic& t, uint32_t partition,
                                             const start_position& start, std::string_view group) {
    start_position s = start;
    if (s.where == start_position::kind::committed) {
        auto committed = committed_offset_of(t, group, partition);
        if (!committed) return std::move(committed).err();
        if (*committed) return start_position::at_offset(**committed);
        s = start_position{s.fallback, 0};
    }
    if (t.durable.empty()) return s;
    // Durable: earliest and time starts may lie on disk, before the ring.
    if (s.where == start_position::kind::earliest) {
        auto b = options_.durable->bounds(t.id, partition);
        if (!b) return std::move(b).err();
        return start_position::at_offset(b->start_offset);
    }
    if (s.where == start_position::kind::timestamp) {
        auto o = options_.durable->offset_for_timestamp(t.id, partition, s.value);
        if (!o) return std::move(o).err();
        return start_position::at_offset(*o);
    }
    return s;
}

result<uint64_t> engine::subscribe(const topic_ptr& t, std::span<const uint32_t> partitions,
                                   start_position start, std::shared_ptr<subscription_sink> sink,
                                   std::string_view group) {
    ES_ASSERT(sink != nullptr);
    if (!group.empty()) ES_TRY(validate_group_name(group));
    if (start.where == start_position::kind::committed) {
        if (group.empty()) {
            return make_error(errc::invalid_argument,
                              "a start at the committed offset needs a consumer group");
        }
        if (start.fallback != start_position::kind::earliest &&
            start.fallback != start_position::kind::latest) {
            return make_error(errc::invalid_argument,
                              "with a committed start, the fallback is earliest or latest");
        }
    }
    std::vector<uint32_t> parts(partitions.begin(), partitions.end());
    if (parts.empty()) {
        for (uint32_t p = 0; p < t->partitions.size(); ++p) parts.push_back(p);
    }
    std::sort(parts.begin(), parts.end());
    parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
    for (uint32_t p : parts) {
        if (p >= t->partitions.size()) {
            return make_error(errc::not_found, "topic '" + t->config.name + "' has no partition " +
                                                   std::to_string(p));
        }
    }
    for (uint32_t p : parts) ES_TRY(check_served(*t, p));
    // Starts that need a disk or group lookup are resolved here, off the workers.
    std::vector<start_position> starts;
    for (uint32_t p : parts) {
        auto s = resolve_start(*t, p, start, group);
        if (!s) return std::move(s).err();
        starts.push_back(*s);
    }
    std::lock_guard lock(admin_mutex_);
    if (t->deleted.load(std::memory_order_acquire)) {
        return make_error(errc::not_found, "topic '" + t->config.name + "' was deleted");
    }
    if (subscriptions_.size() >= options_.subscriptions_max) {
        return make_error(errc::too_large, "the node has " +
                                               std::to_string(options_.subscriptions_max) +
                                               " subscriptions, its limit");
    }
    const uint64_t id = next_subscription_id_++;
    for (size_t i = 0; i < parts.size(); ++i) {
        const uint32_t p = parts[i];
        const start_position& from = starts[i];
        worker& w = *workers_[t->owner_worker[p]];
        memory_partition* mp = t->partitions[p].get();
        w.call([&] {
            // Durable partitions end, for subscribers, at what is on disk.
            const uint64_t end = mp->durable ? mp->durable->visible_end : mp->end_offset();
            auto c = std::make_unique<cursor>();
            c->subscription_id = id;
            c->partition = p;
            c->sink = sink.get();
            switch (from.where) {
                case start_position::kind::earliest:
                    c->next_offset = mp->start_offset();
                    break;
                case start_position::kind::latest:
                case start_position::kind::committed:  // resolved above; not reached
                    c->next_offset = end;
                    break;
                case start_position::kind::offset:
                    c->next_offset =
                        std::min(static_cast<uint64_t>(std::max<int64_t>(from.value, 0)), end);
                    break;
                case start_position::kind::timestamp:
                    c->next_offset = std::min(mp->offset_for_timestamp(from.value), end);
                    break;
            }
            w.add_cursor(mp, std::move(c));
        });
    }
    subscriptions_.emplace(id, subscription_entry{t, std::move(parts), std::move(sink)});
    update_admin_gauges();
    return id;
}

status engine::unsubscribe(uint64_t subscription_id) {
    std::lock_guard lock(admin_mutex_);
    auto it = subscriptions_.find(subscription_id);
    if (it == subscriptions_.end()) {
        return make_error(errc::not_found,
                          "subscription " + std::to_string(subscription_id) + " does not exist");
    }
    const subscription_entry& s = it->second;
    std::vector<uint32_t> done;
    for (uint32_t p : s.partitions) {
        const uint32_t wi = s.topic->owner_worker[p];
        if (std::find(done.begin(), done.end(), wi) != done.end()) continue;
        done.push_back(wi);
        worker& w = *workers_[wi];
        w.call([&] { w.remove_cursors(subscription_id); });
    }
    subscriptions_.erase(it);
    update_admin_gauges();
    return {};
}

result<event_record> engine::read_event(const topic_ptr& t, uint32_t partition, uint64_t offset) {
    if (partition >= t->partitions.size()) {
        return make_error(errc::not_found, "topic '" + t->config.name + "' has no partition " +
                                               std::to_string(partition));
    }
    auto where = [&] {
        return "offset " + std::to_string(offset) + " of " + t->config.name + "/" +
               std::to_string(partition);
    };
    if (!t->durable.empty()) {
        auto found = options_.durable->lookup(t->id, partition, offset);
        if (!found) return std::move(found).err();
        if (*found) return std::move(**found);
        auto b = options_.durable->bounds(t->id, partition);
        if (!b) return std::move(b).err();
        if (offset >= b->end_offset) {
            return make_error(errc::not_found, where() + " has not been written yet");
        }
        return make_error(errc::not_found, where() + " was removed by retention");
    }
    worker& w = *workers_[t->owner_worker[partition]];
    memory_partition* mp = t->partitions[partition].get();
    // The worker owns the ring; the copy is made there. A topic deleted meanwhile still has
    // its partitions alive (t holds them), only no longer on the worker.
    return w.call([&]() -> result<event_record> {
        if (t->deleted.load(std::memory_order_acquire)) {
            return make_error(errc::not_found, "topic '" + t->config.name + "' was deleted");
        }
        if (offset >= mp->end_offset()) {
            return make_error(errc::not_found, where() + " has not been written yet");
        }
        if (offset < mp->start_offset()) {
            return make_error(errc::not_found, where() + " was removed by retention");
        }
        const record_run run = mp->read(offset, 1, 0);
        ES_ASSERT(run.count == 1);
        return event_record::of(partition, event_view::of(run.data));
    });
}

status engine::commit_offset(const topic_ptr& t, std::string_view group, uint32_t partition,
                             uint64_t offset) {
    ES_TRY(check_commit(t, group, partition));
    if (!t->durable.empty()) {
        return options_.durable->commit_offset(t->id, group, partition, offset);
    }
    remember_offset(t, group, partition, offset);
    return {};
}

void engine::remember_offset(const topic_ptr& t, std::string_view group, uint32_t partition,
                             uint64_t offset) {
    std::lock_guard g(groups_mutex_);
    group_offsets_[std::make_tuple(t->id, std::string(group), partition)] = offset;
}

void engine::commit_offset_async(const topic_ptr& t, std::string_view group, uint32_t partition,
                                 uint64_t offset, std::function<void(status)> done) {
    if (status s = check_commit(t, group, partition); !s) return done(std::move(s));
    if (!t->durable.empty()) {
        options_.durable->commit_offset_async(t->id, group, partition, offset, std::move(done));
        return;
    }
    remember_offset(t, group, partition, offset);
    done({});
}

status engine::check_commit(const topic_ptr& t, std::string_view group, uint32_t partition) const {
    ES_TRY(validate_group_name(group));
    if (partition >= t->partitions.size()) {
        return make_error(errc::not_found, "topic '" + t->config.name + "' has no partition " +
                                               std::to_string(partition));
    }
    if (t->deleted.load(std::memory_order_acquire)) {
        return make_error(errc::not_found, "topic '" + t->config.name + "' was deleted");
    }
    return {};
}

result<std::optional<uint64_t>> engine::committed_offset(const topic_ptr& t, std::string_view group,
                                                         uint32_t partition) {
    ES_TRY(validate_group_name(group));
    if (partition >= t->partitions.size()) {
        return make_error(errc::not_found, "topic '" + t->config.name + "' has no partition " +
                                               std::to_string(partition));
    }
    // A follower applies a commit after its leader, and a new leader holds every commit of
    // the terms before only once it serves: both would answer with an older offset.
    ES_TRY(check_served(*t, partition));
    return committed_offset_of(*t, group, partition);
}

status engine::check_served(const topic& t, uint32_t partition) const {
    if (t.durable.empty()) return {};
    if (auto refused = t.durable[partition]->gate.refusal()) {
        return make_error(refused->code, "partition " + std::to_string(partition) + " of topic '" +
                                             t.config.name + "': " + refused->message);
    }
    return {};
}

result<std::optional<uint64_t>> engine::committed_offset_of(const topic& t, std::string_view group,
                                                            uint32_t partition) {
    if (t.deleted.load(std::memory_order_acquire)) {
        return make_error(errc::not_found, "topic '" + t.config.name + "' was deleted");
    }
    if (!t.durable.empty()) return options_.durable->committed_offset(t.id, group, partition);
    std::lock_guard g(groups_mutex_);
    auto it = group_offsets_.find(std::make_tuple(t.id, std::string(group), partition));
    if (it == group_offsets_.end()) return std::optional<uint64_t>{};
    return std::optional<uint64_t>{it->second};
}

std::vector<uint32_t> partition_leaders(const topic_info& info,
                                        const std::optional<cluster_layout>& layout,
                                        uint32_t self) {
    const size_t n = info.partitions.size();
    if (!layout) return std::vector<uint32_t>(n, self);
    std::vector<uint32_t> out(n, 0);
    const auto it = layout->leaders.find(info.config.name);
    if (it == layout->leaders.end()) return out;
    for (size_t i = 0; i < n; ++i) {
        const uint32_t p = info.partitions[i].partition;
        if (p < it->second.size()) out[i] = it->second[p];
    }
    return out;
}

}  // namespace es::core
