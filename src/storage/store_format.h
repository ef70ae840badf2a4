// On-disk layout of the partition store (log_store.h): the keys and values it writes to RocksDB,
// with the helpers that encode and decode them. The writer and the reader of every key use the
// helpers here and nothing else, so this file is the format.
//
// One RocksDB database per node. Keys are compared bytewise (RocksDB's default comparator).
// Numbers inside keys are big-endian so that keys sort in numeric order; numbers inside values
// are little-endian, like the records themselves (core/record_format.h).
//
// Default column family ("default"):
//
//   key                               value
//   "format"                          "eventstream-store 1" (the format marker; ASCII, the
//                                     number is the format version)
//   "next_topic_id"                   u64 LE: one more than the highest topic id ever persisted
//   "topic/" id(u64 BE)               topic metadata, a JSON object (topic_meta.h):
//                                     {"id", "name", "partitions", "storage",
//                                      "replication_factor", "retention_bytes", "retention_ms",
//                                      "max_event_bytes"}
//
// One column family per durable topic, named "t" followed by the topic id in decimal ("t17").
// Every key starts with one byte saying its kind:
//
//   key (bytes)                              value
//   'd' partition(u32 BE) base_offset(u64 BE)   data: the batch's records back to back, exactly
//        13 bytes                               as appended (record_format.h), with offsets
//                                               base_offset, base_offset + 1, ... and their
//                                               timestamps set
//   'i' partition(u32 BE) base_offset(u64 BE)   index entry of the same batch, 16 bytes:
//        13 bytes                                 0  u32 count          records in the batch
//                                                 4  u32 bytes          size of the data value
//                                                 8  i64 max_timestamp  largest record timestamp
//   'm' partition(u32 BE)                       partition bounds, 16 bytes, written whenever
//        5 bytes                                retention moves the start:
//                                                 0  u64 start_offset
//                                                 8  u64 end_offset (at the time of writing)
//   'o' partition(u32 BE) group name            committed group offset: u64 LE, the next
//        5 + 1..255 bytes                       offset the group will read
//
// A batch's 'd' and 'i' entries are written in one WriteBatch, so they exist together. Batches
// of a partition are contiguous: each base_offset is the previous batch's base_offset + count.
// At open the store rebuilds its in-memory bounds and batch index from the 'i' and 'm' entries
// only, never reading data values:
//   start_offset = 'm'.start_offset when present, else the first batch's base_offset, else 0
//   end_offset   = max('m'.end_offset, end of the last batch)
// Retention removes whole batches from the start with range deletes of 'd' and 'i' keys and
// writes 'm' in the same WriteBatch, so that a partition emptied by retention keeps its
// offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace es::storage::format {

// --- default column family ---
inline constexpr std::string_view format_key = "format";
inline constexpr std::string_view format_marker_prefix = "eventstream-store ";
inline constexpr uint32_t format_version = 1;
inline constexpr std::string_view next_topic_id_key = "next_topic_id";
inline constexpr std::string_view topic_key_prefix = "topic/";

// --- topic column families ---
enum class key_kind : char { data = 'd', index = 'i', meta = 'm', group_offset = 'o' };

inline constexpr size_t batch_key_bytes = 1 + 4 + 8;
inline constexpr size_t partition_key_bytes = 1 + 4;
inline constexpr size_t index_value_bytes = 16;
inline constexpr size_t meta_value_bytes = 16;
inline constexpr size_t u64_value_bytes = 8;

// The marker value this build writes and reads: "eventstream-store 1".
inline std::string format_marker() {
    return std::string(format_marker_prefix) + std::to_string(format_version);
}

inline void put_be32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

inline void put_be64(std::string& out, uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// REQUIRES: p points at 4 (get_be32) or 8 (get_be64) readable bytes.
inline uint32_t get_be32(const char* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline uint64_t get_be64(const char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline void put_le64(std::string& out, uint64_t v) {
    for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<char>(v >> shift));
}

inline void put_le32(std::string& out, uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(v >> shift));
}

inline uint64_t get_le64(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline uint32_t get_le32(const char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

// "topic/" id(u64 BE).
inline std::string topic_key(uint64_t topic_id) {
    std::string k(topic_key_prefix);
    put_be64(k, topic_id);
    return k;
}

// The topic id of a "topic/" key; nullopt when the key is not one.
inline std::optional<uint64_t> parse_topic_key(std::string_view key) {
    if (key.size() != topic_key_prefix.size() + 8 || !key.starts_with(topic_key_prefix)) {
        return std::nullopt;
    }
    return get_be64(key.data() + topic_key_prefix.size());
}

// "t<id>", the id in decimal.
inline std::string column_family_name(uint64_t topic_id) {
    std::string name = "t";  // not "t" + ...: GCC 12 gives a false -Wrestrict warning
    name += std::to_string(topic_id);
    return name;
}

// The topic id a column family is named by; nullopt for any other name (including "t0",
// leading zeros and overflow, which this store never writes).
inline std::optional<uint64_t> parse_column_family_name(std::string_view name) {
    if (name.size() < 2 || name.size() > 21 || name[0] != 't' || name[1] == '0') {
        return std::nullopt;
    }
    uint64_t v = 0;
    for (char c : name.substr(1)) {
        if (c < '0' || c > '9') return std::nullopt;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
        v = v * 10 + digit;
    }
    return v;
}

// kind partition(u32 BE) base_offset(u64 BE): a 'd' or 'i' key.
inline std::string batch_key(key_kind kind, uint32_t partition, uint64_t base_offset) {
    std::string k;
    k.reserve(batch_key_bytes);
    k.push_back(static_cast<char>(kind));
    put_be32(k, partition);
    put_be64(k, base_offset);
    return k;
}

// kind partition(u32 BE): the 'm' key, and the prefix of a partition's 'd', 'i' and 'o' keys.
inline std::string partition_key(key_kind kind, uint32_t partition) {
    std::string k;
    k.reserve(partition_key_bytes);
    k.push_back(static_cast<char>(kind));
    put_be32(k, partition);
    return k;
}

// 'o' partition(u32 BE) group.
inline std::string group_offset_key(uint32_t partition, std::string_view group) {
    std::string k = partition_key(key_kind::group_offset, partition);
    k.append(group);
    return k;
}

struct batch_key_fields {
    uint32_t partition = 0;
    uint64_t base_offset = 0;
};

// The fields of a 'd' or 'i' key of the given kind; nullopt when the key is not one.
inline std::optional<batch_key_fields> parse_batch_key(std::string_view key, key_kind kind) {
    if (key.size() != batch_key_bytes || key[0] != static_cast<char>(kind)) return std::nullopt;
    return batch_key_fields{get_be32(key.data() + 1), get_be64(key.data() + 5)};
}

// The partition of an 'm' key; nullopt when the key is not one.
inline std::optional<uint32_t> parse_meta_key(std::string_view key) {
    if (key.size() != partition_key_bytes || key[0] != static_cast<char>(key_kind::meta)) {
        return std::nullopt;
    }
    return get_be32(key.data() + 1);
}

struct index_value {
    uint32_t count = 0;
    uint32_t bytes = 0;
    int64_t max_timestamp_ns = 0;
};

inline std::string encode_index_value(const index_value& v) {
    std::string out;
    out.reserve(index_value_bytes);
    put_le32(out, v.count);
    put_le32(out, v.bytes);
    put_le64(out, static_cast<uint64_t>(v.max_timestamp_ns));
    return out;
}

// nullopt when the value has the wrong size.
inline std::optional<index_value> decode_index_value(std::string_view v) {
    if (v.size() != index_value_bytes) return std::nullopt;
    return index_value{get_le32(v.data()), get_le32(v.data() + 4),
                       static_cast<int64_t>(get_le64(v.data() + 8))};
}

struct meta_value {
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
};

inline std::string encode_meta_value(const meta_value& v) {
    std::string out;
    out.reserve(meta_value_bytes);
    put_le64(out, v.start_offset);
    put_le64(out, v.end_offset);
    return out;
}

// nullopt when the value has the wrong size or start_offset > end_offset.
inline std::optional<meta_value> decode_meta_value(std::string_view v) {
    if (v.size() != meta_value_bytes) return std::nullopt;
    meta_value m{get_le64(v.data()), get_le64(v.data() + 8)};
    if (m.start_offset > m.end_offset) return std::nullopt;
    return m;
}

// A u64 value ("next_topic_id", group offsets).
inline std::string encode_u64_value(uint64_t v) {
    std::string out;
    out.reserve(u64_value_bytes);
    put_le64(out, v);
    return out;
}

// nullopt when the value has the wrong size.
inline std::optional<uint64_t> decode_u64_value(std::string_view v) {
    if (v.size() != u64_value_bytes) return std::nullopt;
    return get_le64(v.data());
}

}  // namespace es::storage::format
