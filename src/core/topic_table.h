// The node's topic table: create, delete, list and look up topics by name. Control plane: it
// takes a lock, which the data plane never needs (publishers hold topic_ptr handles).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/topic.h"

namespace es::core {
class segment_pool;
}

namespace es::core {

// How topic_table::create builds a topic beyond its configuration.
struct topic_create_options {
    // The topic's id; 0 takes the next free one. Restored durable topics keep theirs.
    uint64_t id = 0;
    // Memory bound of each partition's ring when it differs from config.retention_bytes (a
    // durable partition keeps only a cache of recent events in memory); 0: retention_bytes.
    uint64_t ring_bytes = 0;
    // The node's pool of segment buffers (memory_partition); null: none.
    std::shared_ptr<segment_pool> segments;
};

class topic_table {
  public:
    // Validates `config`, builds the topic with its partitions, lets `prepare` place them (fill
    // owner_worker, slot, generation and hand them to their workers), and only then makes the
    // topic visible to find() and list(). Errors: invalid_argument (the message names the
    // field), already_exists, too_large (max_topics), or prepare's error.
    // REQUIRES: callers whose prepare has side effects serialise their creates, so that the
    // name cannot be taken between the check and the insert.
    // The topic's id is set before prepare runs.
    result<topic_ptr> create(const topic_config& config,
                             const std::function<status(topic&)>& prepare,
                             const topic_create_options& options = {});

    // Ids handed out from now on are at least `id`.
    void reserve_ids_below(uint64_t id);

    // Removes the topic from the table and marks it deleted; returns it so the caller can tell
    // its workers. Error: not_found.
    result<topic_ptr> remove(std::string_view name);

    result<topic_ptr> find(std::string_view name) const;

    // Every topic, by name.
    std::vector<topic_ptr> list() const;

    size_t size() const;

  private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, topic_ptr, std::less<>> topics_;  // guarded by mutex_
    uint64_t next_id_ = 1;                                  // guarded by mutex_
};

}  // namespace es::core
