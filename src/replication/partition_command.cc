// Encoding of partition commands.
#include "replication/partition_command.h"

#include "core/record_format.h"
#include "core/topic.h"
#include "storage/record_check.h"

namespace es::replication {
namespace {

// [u8 version][u8 kind] then
//   batch:  [u64 base_offset][u32 count][u16 producers]
//           producers x [u64 producer id][u64 first sequence][u32 count][u64 base offset]
//           [records]
//   commit: [u64 offset][u16 group bytes][group]
constexpr uint8_t command_version = 1;
constexpr size_t batch_head_bytes = 2 + 8 + 4 + 2;
constexpr size_t producer_append_bytes = 8 + 8 + 4 + 8;
constexpr size_t commit_head_bytes = 2 + 8 + 2;

}  // namespace

std::vector<std::byte> encode_batch_command(uint64_t base_offset, uint32_t count,
                                            std::span<const std::byte> records,
                                            std::span<const core::producer_append> producers) {
    std::vector<std::byte> out;
    out.reserve(batch_head_bytes + producers.size() * producer_append_bytes + records.size());
    core::append_le<uint8_t>(out, command_version);
    core::append_le<uint8_t>(out, static_cast<uint8_t>(partition_command::kind::batch));
    core::append_le<uint64_t>(out, base_offset);
    core::append_le<uint32_t>(out, count);
    core::append_le<uint16_t>(out, static_cast<uint16_t>(producers.size()));
    for (const core::producer_append& p : producers) {
        core::append_le<uint64_t>(out, p.producer_id);
        core::append_le<uint64_t>(out, p.first_sequence);
        core::append_le<uint32_t>(out, p.count);
        core::append_le<uint64_t>(out, p.base_offset);
    }
    out.insert(out.end(), records.begin(), records.end());
    return out;
}

std::vector<std::byte> encode_commit_command(std::string_view group, uint64_t offset) {
    std::vector<std::byte> out;
    out.reserve(commit_head_bytes + group.size());
    core::append_le<uint8_t>(out, command_version);
    core::append_le<uint8_t>(out, static_cast<uint8_t>(partition_command::kind::commit_offset));
    core::append_le<uint64_t>(out, offset);
    core::append_le<uint16_t>(out, static_cast<uint16_t>(group.size()));
    const auto* g = reinterpret_cast<const std::byte*>(group.data());
    out.insert(out.end(), g, g + group.size());
    return out;
}

result<partition_command> decode_partition_command(std::span<const std::byte> bytes) {
    if (bytes.size() < 2) return make_error(errc::invalid_argument, "partition command too short");
    if (core::load_le<uint8_t>(bytes.data()) != command_version) {
        return make_error(errc::invalid_argument,
                          "partition command of unknown version " +
                              std::to_string(core::load_le<uint8_t>(bytes.data())));
    }
    partition_command c;
    const auto kind = core::load_le<uint8_t>(bytes.data() + 1);
    if (kind == static_cast<uint8_t>(partition_command::kind::batch)) {
        if (bytes.size() < batch_head_bytes) {
            return make_error(errc::invalid_argument, "batch command too short");
        }
        c.type = partition_command::kind::batch;
        c.base_offset = core::load_le<uint64_t>(bytes.data() + 2);
        c.count = core::load_le<uint32_t>(bytes.data() + 10);
        const auto producers = core::load_le<uint16_t>(bytes.data() + 14);
        if (bytes.size() - batch_head_bytes < size_t{producers} * producer_append_bytes) {
            return make_error(errc::invalid_argument, "batch command: producers cut short");
        }
        const std::byte* q = bytes.data() + batch_head_bytes;
        for (uint16_t i = 0; i < producers; ++i, q += producer_append_bytes) {
            core::producer_append a{core::load_le<uint64_t>(q), core::load_le<uint64_t>(q + 8),
                                    core::load_le<uint32_t>(q + 16),
                                    core::load_le<uint64_t>(q + 20)};
            if (a.producer_id == 0 || a.count == 0 || a.base_offset < c.base_offset ||
                a.base_offset - c.base_offset + a.count > c.count) {
                return make_error(errc::invalid_argument, "batch command: producer batch " +
                                                              std::to_string(i) +
                                                              " lies outside the batch");
            }
            c.producers.push_back(a);
        }
        c.records = bytes.subspan(batch_head_bytes + size_t{producers} * producer_append_bytes);
        if (c.count == 0) return make_error(errc::invalid_argument, "batch command of 0 events");
        std::span<const std::byte> rest = c.records;
        for (uint32_t i = 0; i < c.count; ++i) {
            const size_t size = storage::checked_record_size(rest, c.base_offset + i);
            if (size == 0) {
                return make_error(errc::invalid_argument,
                                  "batch command: record " + std::to_string(i) + " is malformed");
            }
            rest = rest.subspan(size);
        }
        if (!rest.empty()) {
            return make_error(errc::invalid_argument, "batch command: bytes after its records");
        }
        return c;
    }
    if (kind == static_cast<uint8_t>(partition_command::kind::commit_offset)) {
        if (bytes.size() < commit_head_bytes) {
            return make_error(errc::invalid_argument, "commit command too short");
        }
        c.type = partition_command::kind::commit_offset;
        c.offset = core::load_le<uint64_t>(bytes.data() + 2);
        const auto len = core::load_le<uint16_t>(bytes.data() + 10);
        if (bytes.size() != commit_head_bytes + len) {
            return make_error(errc::invalid_argument, "commit command: bad group length");
        }
        c.group.assign(reinterpret_cast<const char*>(bytes.data() + commit_head_bytes), len);
        return c;
    }
    return make_error(errc::invalid_argument,
                      "partition command of unknown kind " + std::to_string(kind));
}

}  // namespace es::replication

namespace es::replication {
namespace {

// Snapshot, version 2:
//   [u8 version][u64 topic id][u32 partition][u64 end offset][producer table]
//   [u32 group count] per group: [u16 name bytes][name][u64 offset]
// Version 1 ends after the producer table.
constexpr uint8_t snapshot_version = 2;
constexpr uint8_t snapshot_version_without_groups = 1;
constexpr size_t snapshot_head_bytes = 1 + 8 + 4 + 8;
constexpr size_t snapshot_group_min_bytes = 2 + 8;

error bad_snapshot(const std::string& what) {
    return make_error(errc::invalid_argument, "partition snapshot: " + what);
}

}  // namespace

std::vector<std::byte> encode_partition_snapshot(const partition_snapshot& s) {
    std::vector<std::byte> out;
    core::append_le<uint8_t>(out, snapshot_version);
    core::append_le<uint64_t>(out, s.topic_id);
    core::append_le<uint32_t>(out, s.partition);
    core::append_le<uint64_t>(out, s.end_offset);
    s.producers.encode(out);
    core::append_le<uint32_t>(out, static_cast<uint32_t>(s.group_offsets.size()));
    for (const auto& [group, offset] : s.group_offsets) {
        core::append_le<uint16_t>(out, static_cast<uint16_t>(group.size()));
        const auto* g = reinterpret_cast<const std::byte*>(group.data());
        out.insert(out.end(), g, g + group.size());
        core::append_le<uint64_t>(out, offset);
    }
    return out;
}

result<partition_snapshot> decode_partition_snapshot(std::span<const std::byte> bytes) {
    if (bytes.size() < snapshot_head_bytes) return bad_snapshot("truncated head");
    const auto version = core::load_le<uint8_t>(bytes.data());
    if (version != snapshot_version && version != snapshot_version_without_groups) {
        return bad_snapshot("unknown version " + std::to_string(version));
    }
    partition_snapshot s;
    s.topic_id = core::load_le<uint64_t>(bytes.data() + 1);
    s.partition = core::load_le<uint32_t>(bytes.data() + 9);
    s.end_offset = core::load_le<uint64_t>(bytes.data() + 13);
    std::span<const std::byte> rest = bytes.subspan(snapshot_head_bytes);
    if (!core::producer_table::decode(rest, s.producers)) return bad_snapshot("bad producer state");
    if (version == snapshot_version_without_groups) {
        if (!rest.empty()) return bad_snapshot("bytes after the producer state");
        return s;
    }
    if (rest.size() < 4) return bad_snapshot("truncated group count");
    const auto groups = core::load_le<uint32_t>(rest.data());
    rest = rest.subspan(4);
    if (groups > rest.size() / snapshot_group_min_bytes) {
        return bad_snapshot(std::to_string(groups) + " groups cannot fit in " +
                            std::to_string(rest.size()) + " bytes");
    }
    s.group_offsets.reserve(groups);
    for (uint32_t i = 0; i < groups; ++i) {
        if (rest.size() < 2) return bad_snapshot("truncated group " + std::to_string(i));
        const auto len = core::load_le<uint16_t>(rest.data());
        if (rest.size() < 2 + size_t{len} + 8) {
            return bad_snapshot("truncated group " + std::to_string(i));
        }
        std::string group(reinterpret_cast<const char*>(rest.data() + 2), len);
        if (auto valid = core::validate_group_name(group); !valid) {
            return bad_snapshot("group " + std::to_string(i) + ": " + valid.err().message);
        }
        const auto offset = core::load_le<uint64_t>(rest.data() + 2 + len);
        s.group_offsets.emplace_back(std::move(group), offset);
        rest = rest.subspan(2 + size_t{len} + 8);
    }
    if (!rest.empty()) return bad_snapshot("bytes after the group offsets");
    return s;
}

}  // namespace es::replication
