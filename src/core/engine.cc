// Engine assembly: workers, placement of partitions, subscriptions.
#include "core/engine.h"

#include <algorithm>
#include <thread>

#include "core/cpu_affinity.h"
#include "core/ingest_entry.h"
#include "core/memory_partition.h"

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
              w.push_back(std::make_unique<worker>(i, options.worker, clock_, metrics_.workers[i]));
          }
          return w;
      }()),
      dispatcher_(workers_, metrics_, options.dispatch),
      slots_(workers_.size()) {}

engine::~engine() {
    stop();
}

void engine::start() {
    std::lock_guard lock(admin_mutex_);
    if (started_ || stopped_) return;  // an engine is started once; a stopped one stays so
    started_ = true;
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

result<topic_info> engine::create_topic(const topic_config& config) {
    if (config.storage == storage_mode::durable) {
        ES_TRY(validate_topic_config(config));
        return make_error(errc::not_supported,
                          "storage=durable needs the RocksDB storage subsystem, which is not "
                          "built yet; use storage=memory");
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
    std::lock_guard lock(admin_mutex_);
    const auto worker_count = static_cast<uint32_t>(workers_.size());
    // Spread partitions over the workers round-robin across topics, so that many small topics
    // do not all land on worker 0. Each partition takes a slot in its worker's table; the
    // topic becomes visible only once every worker holds its partitions.
    const uint32_t first = next_worker_;
    auto t = topics_.create(config, [&](topic& tp) -> status {
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
    });
    if (!t) return std::move(t).err();
    next_worker_ = (first + config.partitions) % worker_count;
    update_admin_gauges();
    return info_of(**t);
}

status engine::delete_topic(std::string_view name) {
    std::lock_guard lock(admin_mutex_);
    auto t = topics_.remove(name);
    if (!t) return std::move(t).err();
    const topic_ptr& tp = *t;
    for (uint32_t p = 0; p < tp->partitions.size(); ++p) {
        worker& w = *workers_[tp->owner_worker[p]];
        const uint32_t slot = tp->slot[p];
        w.call([&] { w.drop_partition(slot); });
        slots_[tp->owner_worker[p]].release(slot);
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
        info.partitions.push_back({p, t.owner_worker[p], mp.start_offset_approx(),
                                   mp.end_offset_approx(), mp.stored_bytes_approx()});
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

result<uint64_t> engine::subscribe(const topic_ptr& t, std::span<const uint32_t> partitions,
                                   start_position start, std::shared_ptr<subscription_sink> sink) {
    ES_ASSERT(sink != nullptr);
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
    for (uint32_t p : parts) {
        worker& w = *workers_[t->owner_worker[p]];
        memory_partition* mp = t->partitions[p].get();
        w.call([&] {
            auto c = std::make_unique<cursor>();
            c->subscription_id = id;
            c->partition = p;
            c->sink = sink.get();
            switch (start.where) {
                case start_position::kind::earliest:
                    c->next_offset = mp->start_offset();
                    break;
                case start_position::kind::latest:
                    c->next_offset = mp->end_offset();
                    break;
                case start_position::kind::offset:
                    c->next_offset = std::min(
                        static_cast<uint64_t>(std::max<int64_t>(start.value, 0)), mp->end_offset());
                    break;
                case start_position::kind::timestamp:
                    c->next_offset = mp->offset_for_timestamp(start.value);
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

}  // namespace es::core
