// Topic table.
#include "core/topic_table.h"

#include <algorithm>
#include <mutex>

#include "core/memory_partition.h"

namespace es::core {

result<topic_ptr> topic_table::create(const topic_config& config,
                                      const std::function<status(topic&)>& prepare,
                                      const topic_create_options& options) {
    ES_TRY(validate_topic_config(config));
    auto check = [&]() -> status {
        if (topics_.count(config.name)) {
            return make_error(errc::already_exists, "topic '" + config.name + "' already exists");
        }
        if (topics_.size() >= max_topics) {
            return make_error(errc::too_large, "the node holds " + std::to_string(max_topics) +
                                                   " topics, its limit");
        }
        return {};
    };
    auto t = std::make_shared<topic>();
    {
        std::unique_lock lock(mutex_);
        ES_TRY(check());
        // Taken now so that prepare can persist it; a failed create leaves the id unused.
        t->id = options.id != 0 ? options.id : next_id_++;
        next_id_ = std::max(next_id_, t->id + 1);
    }
    t->config = config;
    topic_config ring = config;
    if (options.ring_bytes != 0) {
        ring.retention_bytes = options.ring_bytes;
        ring.retention_ms = 0;  // age retention is the store's job
    }
    t->partitions.reserve(config.partitions);
    for (uint32_t p = 0; p < config.partitions; ++p) {
        t->partitions.push_back(std::make_unique<memory_partition>(p, ring, options.segments));
    }
    ES_TRY(prepare(*t));
    ES_ASSERT(t->owner_worker.size() == config.partitions && t->slot.size() == config.partitions &&
              t->generation.size() == config.partitions);
    std::unique_lock lock(mutex_);
    ES_TRY(check());
    topics_.emplace(config.name, t);
    return t;
}

void topic_table::reserve_ids_below(uint64_t id) {
    std::unique_lock lock(mutex_);
    next_id_ = std::max(next_id_, id);
}

result<topic_ptr> topic_table::remove(std::string_view name) {
    std::unique_lock lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
        return make_error(errc::not_found, "topic '" + std::string(name) + "' does not exist");
    }
    topic_ptr t = std::move(it->second);
    topics_.erase(it);
    t->deleted.store(true, std::memory_order_release);
    return t;
}

result<topic_ptr> topic_table::find(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
        return make_error(errc::not_found, "topic '" + std::string(name) + "' does not exist");
    }
    return it->second;
}

std::vector<topic_ptr> topic_table::list() const {
    std::shared_lock lock(mutex_);
    std::vector<topic_ptr> out;
    out.reserve(topics_.size());
    for (const auto& [name, t] : topics_) out.push_back(t);
    return out;
}

size_t topic_table::size() const {
    std::shared_lock lock(mutex_);
    return topics_.size();
}

}  // namespace es::core
