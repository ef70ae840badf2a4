// Partition commands and their application into the store.
#include "replication/partition_machine.h"

#include <cstring>

#include "core/record_format.h"
#include "storage/log_store.h"
#include "storage/record_check.h"

namespace es::replication {
namespace {

// [u8 version][u8 kind] then
//   batch:  [u64 base_offset][u32 count][u16 producers]
//           producers x [u64 producer id][u64 first sequence][u32 count][u64 base offset]
//           [records]
//   commit: [u64 offset][u16 group bytes][group]
// Snapshot: [u8 version][u64 topic id][u32 partition][u64 end offset][producer table]
constexpr uint8_t command_version = 1;
constexpr size_t batch_head_bytes = 2 + 8 + 4 + 2;
constexpr size_t producer_append_bytes = 8 + 8 + 4 + 8;
constexpr size_t commit_head_bytes = 2 + 8 + 2;
constexpr size_t snapshot_head_bytes = 1 + 8 + 4 + 8;

template <class T>
void put(std::vector<std::byte>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    core::store_le<T>(out.data() + at, v);
}

}  // namespace

std::vector<std::byte> encode_batch_command(uint64_t base_offset, uint32_t count,
                                            std::span<const std::byte> records,
                                            std::span<const core::producer_append> producers) {
    std::vector<std::byte> out;
    out.reserve(batch_head_bytes + producers.size() * producer_append_bytes + records.size());
    put<uint8_t>(out, command_version);
    put<uint8_t>(out, static_cast<uint8_t>(partition_command::kind::batch));
    put<uint64_t>(out, base_offset);
    put<uint32_t>(out, count);
    put<uint16_t>(out, static_cast<uint16_t>(producers.size()));
    for (const core::producer_append& p : producers) {
        put<uint64_t>(out, p.producer_id);
        put<uint64_t>(out, p.first_sequence);
        put<uint32_t>(out, p.count);
        put<uint64_t>(out, p.base_offset);
    }
    out.insert(out.end(), records.begin(), records.end());
    return out;
}

std::vector<std::byte> encode_commit_command(std::string_view group, uint64_t offset) {
    std::vector<std::byte> out;
    out.reserve(commit_head_bytes + group.size());
    put<uint8_t>(out, command_version);
    put<uint8_t>(out, static_cast<uint8_t>(partition_command::kind::commit_offset));
    put<uint64_t>(out, offset);
    put<uint16_t>(out, static_cast<uint16_t>(group.size()));
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

partition_machine::partition_machine(storage::log_store& store, uint64_t topic_id,
                                     uint32_t partition, catch_up_fn catch_up)
    : store_(store), topic_id_(topic_id), partition_(partition), catch_up_(std::move(catch_up)) {}

status partition_machine::apply(uint64_t /*index*/, std::span<const std::byte> command) {
    auto c = decode_partition_command(command);
    if (!c) return std::move(c).err();
    if (c->type == partition_command::kind::commit_offset) {
        // The Raft log is the durable copy; the store's WAL is synced before any snapshot.
        return store_.commit_offset(topic_id_, c->group, partition_, c->offset, false);
    }
    const storage::append_batch batch{
        topic_id_, partition_, c->base_offset,
        core::record_run{c->records.data(), c->records.size(), c->count}};
    ES_TRY(store_.append(std::span(&batch, 1), false));
    if (!c->producers.empty()) {
        std::lock_guard lock(mutex_);
        for (const core::producer_append& a : c->producers) {
            // The log orders producers by use: its offsets stand in for time.
            producers_.appended(a.producer_id, a.first_sequence, a.count, a.base_offset,
                                a.base_offset);
        }
    }
    return {};
}

core::producer_table partition_machine::producers() const {
    std::lock_guard lock(mutex_);
    return producers_;
}

result<std::vector<std::byte>> partition_machine::snapshot() {
    ES_TRY(store_.sync());
    auto b = store_.bounds(topic_id_, partition_);
    if (!b) return std::move(b).err();
    std::vector<std::byte> out;
    put<uint8_t>(out, command_version);
    put<uint64_t>(out, topic_id_);
    put<uint32_t>(out, partition_);
    put<uint64_t>(out, b->end_offset);
    std::lock_guard lock(mutex_);
    producers_.encode(out);
    return out;
}

status partition_machine::restore(std::span<const std::byte> snapshot) {
    if (snapshot.size() < snapshot_head_bytes ||
        core::load_le<uint8_t>(snapshot.data()) != command_version) {
        return make_error(errc::invalid_argument, "partition snapshot: unknown format");
    }
    std::span<const std::byte> rest = snapshot.subspan(snapshot_head_bytes);
    core::producer_table producers;
    if (!core::producer_table::decode(rest, producers) || !rest.empty()) {
        return make_error(errc::invalid_argument, "partition snapshot: bad producer state");
    }
    const auto topic = core::load_le<uint64_t>(snapshot.data() + 1);
    const auto partition = core::load_le<uint32_t>(snapshot.data() + 9);
    const auto end = core::load_le<uint64_t>(snapshot.data() + 13);
    if (topic != topic_id_ || partition != partition_) {
        return make_error(errc::invalid_argument, "partition snapshot of another partition");
    }
    {
        std::lock_guard lock(mutex_);
        producers_ = std::move(producers);
    }
    auto b = store_.bounds(topic_id_, partition_);
    if (!b) return std::move(b).err();
    if (b->end_offset >= end) return {};
    // The snapshot covers events this replica never got: fetch them before libraft goes on,
    // so that this replica never claims what it does not hold.
    if (!catch_up_) {
        return make_error(errc::unavailable,
                          "partition snapshot ends at offset " + std::to_string(end) +
                              " but this replica holds only up to " +
                              std::to_string(b->end_offset) + " and cannot fetch the rest");
    }
    ES_TRY(catch_up_(topic_id_, partition_, b->end_offset, end));
    return {};
}

}  // namespace es::replication
