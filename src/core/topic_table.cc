// Topic table.
#include "core/topic_table.h"

#include <mutex>

#include "core/memory_partition.h"

namespace es::core {

result<topic_ptr> topic_table::create(const topic_config& config,
                                      const std::function<status(topic&)>& prepare) {
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
    {
        std::shared_lock lock(mutex_);
        ES_TRY(check());
    }
    auto t = std::make_shared<topic>();
    t->config = config;
    t->partitions.reserve(config.partitions);
    for (uint32_t p = 0; p < config.partitions; ++p) {
        t->partitions.push_back(std::make_unique<memory_partition>(p, config));
    }
    ES_TRY(prepare(*t));
    ES_ASSERT(t->owner_worker.size() == config.partitions && t->slot.size() == config.partitions &&
              t->generation.size() == config.partitions);
    std::unique_lock lock(mutex_);
    ES_TRY(check());
    t->id = next_id_++;
    topics_.emplace(config.name, t);
    return t;
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
