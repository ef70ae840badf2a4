// Topics: their configuration, the rules it must satisfy, and the in-memory topic object that
// publishers and workers share.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace es::core {

class memory_partition;
struct durable_partition;

enum class storage_mode { memory, durable };

const char* storage_mode_name(storage_mode m) noexcept;
result<storage_mode> parse_storage_mode(std::string_view text);

// Limits on topic configuration (STYLE.md: every outside value has a named limit).
inline constexpr size_t max_topic_name_bytes = 249;  // Kafka's rule
inline constexpr uint32_t max_partitions = 4096;
inline constexpr uint32_t max_replication_factor = 5;
inline constexpr uint64_t min_retention_bytes = 64 * 1024;
inline constexpr uint64_t max_memory_retention_bytes = 16ull << 30;
inline constexpr uint32_t max_topics = 10000;
inline constexpr size_t max_group_name_bytes = 255;

struct topic_config {
    std::string name;
    // Number of partitions, 1..max_partitions.
    uint32_t partitions = 1;
    storage_mode storage = storage_mode::memory;
    // Copies of each partition, 1..5. Memory topics are not replicated and take 1.
    uint32_t replication_factor = 1;
    // Per partition: the oldest events are dropped once the partition holds more than this.
    // For memory topics it is also the partition's memory bound.
    uint64_t retention_bytes = 64ull << 20;
    // Per partition: events older than this are dropped. 0 keeps events whatever their age.
    uint64_t retention_ms = 0;
    // Largest event accepted, key + payload + headers, in bytes.
    uint32_t max_event_bytes = 1 << 20;

    bool operator==(const topic_config&) const = default;
};

// Checks the name: 1..249 of [A-Za-z0-9._-], and not "." or "..".
status validate_topic_name(std::string_view name);
// Checks every field; the message names the field and the rule.
status validate_topic_config(const topic_config& config);
// Checks a consumer-group name: 1..max_group_name_bytes bytes of [A-Za-z0-9._-].
status validate_group_name(std::string_view group);

// A live topic. The configuration and partitions are constant after creation; `deleted` flips
// once. Publishers hold a shared_ptr, so a topic deleted under them stays valid until they let
// go (their later publishes get not_found).
struct topic {
    topic_config config;
    uint64_t id = 0;
    // partitions[i] is touched only by worker owner_worker[i], where it sits in slot slot[i]
    // of that worker's table with generation generation[i].
    std::vector<std::unique_ptr<memory_partition>> partitions;
    // Durable topics: durable[i] is partition i's disk state (partitions[i]->durable points at
    // it). Empty for memory topics.
    std::vector<std::unique_ptr<durable_partition>> durable;
    std::vector<uint32_t> owner_worker;
    std::vector<uint32_t> slot;
    std::vector<uint32_t> generation;
    std::atomic<bool> deleted{false};
    // Spreads unkeyed publishes over the partitions, one partition per publish call.
    std::atomic<uint64_t> round_robin{0};

    topic();
    ~topic();
};

using topic_ptr = std::shared_ptr<topic>;

}  // namespace es::core
