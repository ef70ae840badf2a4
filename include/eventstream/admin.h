// Topic management over the native protocol: create, delete, list, describe, metadata.
//
// Thread safety: every call may be made from any thread, concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eventstream/options.h"
#include "eventstream/status.h"

namespace eventstream {

enum class storage_kind : uint8_t { memory = 0, durable = 1 };

struct topic_config {
    std::string name;  // 1..249 of [A-Za-z0-9._-]
    uint32_t partitions = 1;
    storage_kind storage = storage_kind::memory;
    uint8_t replication_factor = 1;
    uint64_t retention_bytes = 64ull << 20;  // per partition
    uint64_t retention_ms = 0;               // 0: no age limit
    uint32_t max_event_bytes = 1 << 20;
};

struct partition_info {
    uint32_t partition = 0;
    uint32_t leader_node = 0;
    uint64_t start_offset = 0;  // the oldest offset held
    uint64_t end_offset = 0;    // the offset the next event gets
    uint64_t stored_bytes = 0;
};

struct topic_info {
    topic_config config;
    uint64_t id = 0;
    std::vector<partition_info> partitions;
};

struct node_info {
    uint32_t node_id = 0;
    std::string host;
    uint16_t native_port = 0;
};

struct cluster_metadata {
    std::vector<node_info> nodes;
    struct topic_leaders {
        std::string name;
        std::vector<uint32_t> leader_by_partition;
    };
    std::vector<topic_leaders> topics;
};

class admin {
  public:
    // Connects and says HELLO. Errors: connection_lost (cannot connect), timed_out,
    // protocol_error, invalid_argument (a bad server address).
    static result<std::unique_ptr<admin>> connect(const connection_options& options = {});
    ~admin();
    admin(const admin&) = delete;
    admin& operator=(const admin&) = delete;

    // Errors: already_exists, invalid_argument (name or settings), and those of any request.
    result<topic_info> create_topic(const topic_config& config);
    // Error: not_found.
    status delete_topic(const std::string& name);
    result<std::vector<topic_info>> list_topics();
    // Error: not_found.
    result<topic_info> describe_topic(const std::string& name);
    // The leaders of the named topics' partitions (every topic when `topics` is empty).
    result<cluster_metadata> metadata(const std::vector<std::string>& topics = {});

  private:
    struct impl;
    explicit admin(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace eventstream
