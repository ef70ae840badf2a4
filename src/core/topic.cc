// Topic configuration rules.
#include "core/topic.h"

#include "core/durable_partition.h"
#include "core/memory_partition.h"
#include "core/record_format.h"

namespace es::core {

topic::topic() = default;
topic::~topic() = default;

const char* storage_mode_name(storage_mode m) noexcept {
    return m == storage_mode::memory ? "memory" : "durable";
}

result<storage_mode> parse_storage_mode(std::string_view text) {
    if (text == "memory") return storage_mode::memory;
    if (text == "durable") return storage_mode::durable;
    return make_error(errc::invalid_argument,
                      "storage must be memory or durable, got '" + std::string(text) + "'");
}

namespace {

// Kafka's rule for names: 1..max_bytes of [A-Za-z0-9._-]. `what` names the thing in messages.
status check_name(std::string_view what, std::string_view name, size_t max_bytes) {
    const std::string w(what);
    if (name.empty()) return make_error(errc::invalid_argument, w + " name is empty");
    if (name.size() > max_bytes) {
        return make_error(errc::invalid_argument, w + " name is " + std::to_string(name.size()) +
                                                      " characters; the limit is " +
                                                      std::to_string(max_bytes));
    }
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return make_error(errc::invalid_argument, w +
                                                          " name may hold only A-Z a-z 0-9 . _ -; "
                                                          "found '" +
                                                          std::string(1, c) + "'");
        }
    }
    return {};
}

}  // namespace

status validate_topic_name(std::string_view name) {
    ES_TRY(check_name("topic", name, max_topic_name_bytes));
    if (name == "." || name == "..") {
        return make_error(errc::invalid_argument, "topic name cannot be '.' or '..'");
    }
    return {};
}

status validate_group_name(std::string_view group) {
    return check_name("group", group, max_group_name_bytes);
}

status validate_topic_config(const topic_config& c) {
    ES_TRY(validate_topic_name(c.name));
    if (c.partitions < 1 || c.partitions > max_partitions) {
        return make_error(errc::invalid_argument, "partitions must be 1.." +
                                                      std::to_string(max_partitions) + ", got " +
                                                      std::to_string(c.partitions));
    }
    if (c.replication_factor < 1 || c.replication_factor > max_replication_factor) {
        return make_error(errc::invalid_argument, "replication_factor must be 1.." +
                                                      std::to_string(max_replication_factor) +
                                                      ", got " +
                                                      std::to_string(c.replication_factor));
    }
    if (c.storage == storage_mode::memory && c.replication_factor != 1) {
        return make_error(errc::invalid_argument,
                          "replication_factor must be 1 for memory topics (they are not "
                          "replicated); use storage=durable to replicate");
    }
    if (c.max_event_bytes < 1 || c.max_event_bytes > max_event_bytes_limit) {
        return make_error(errc::invalid_argument, "max_event_bytes must be 1.." +
                                                      std::to_string(max_event_bytes_limit) +
                                                      ", got " + std::to_string(c.max_event_bytes));
    }
    if (c.retention_bytes < min_retention_bytes) {
        return make_error(errc::invalid_argument, "retention_bytes must be at least " +
                                                      std::to_string(min_retention_bytes) +
                                                      ", got " + std::to_string(c.retention_bytes));
    }
    if (c.storage == storage_mode::memory && c.retention_bytes > max_memory_retention_bytes) {
        return make_error(errc::invalid_argument,
                          "retention_bytes of a memory topic is its memory bound and must be at "
                          "most " +
                              std::to_string(max_memory_retention_bytes) + ", got " +
                              std::to_string(c.retention_bytes));
    }
    // A partition keeps at least two events of the largest size, so that byte retention never
    // drops the event it has just taken.
    const uint64_t largest = record_size(0, c.max_event_bytes, 0);
    if (c.retention_bytes < 2 * largest) {
        return make_error(errc::invalid_argument,
                          "retention_bytes (" + std::to_string(c.retention_bytes) +
                              ") must hold at least two events of max_event_bytes (" +
                              std::to_string(c.max_event_bytes) + ")");
    }
    return {};
}

}  // namespace es::core
