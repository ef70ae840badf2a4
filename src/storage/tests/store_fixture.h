// Helpers for the storage tests: a temporary directory per test, records encoded the way the
// engine hands them to the store, and topics to put.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/tests/temp_dir.h"
#include "core/batch.h"
#include "storage/log_store.h"

namespace es::storage::testing {

// A fresh temporary directory, removed at the end, with the store's path inside it.
class temp_dir : public es::testing::temp_dir {
  public:
    // The store's directory inside (not created).
    std::string store() const { return *this / "store"; }
};

// One event as a test writes it.
struct test_event {
    std::string key;
    bool has_key = false;
    std::string payload;
    int64_t timestamp_ns = 1;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Records encoded back to back, offsets from base_offset on, ready to append.
struct test_run {
    std::vector<std::byte> bytes;
    uint32_t count = 0;
    uint64_t base_offset = 0;

    append_batch to(uint64_t topic_id, uint32_t partition) const {
        return append_batch{topic_id, partition, base_offset,
                            core::record_run{bytes.data(), bytes.size(), count}};
    }
};

inline test_run encode_run(uint64_t base_offset, const std::vector<test_event>& events) {
    test_run run;
    run.base_offset = base_offset;
    for (const test_event& e : events) {
        std::vector<core::header_in> headers;
        for (const auto& [name, value] : e.headers) headers.push_back({name, value});
        const core::event_in in{e.key, e.has_key, e.payload, headers, e.timestamp_ns};
        const size_t at = run.bytes.size();
        run.bytes.resize(at + core::encoded_size(in));
        core::encode_record(in, run.bytes.data() + at);
        core::store_le<uint64_t>(run.bytes.data() + at + core::record_field::offset,
                                 base_offset + run.count);
        ++run.count;
    }
    return run;
}

// `n` events with payloads "<prefix><offset>" and timestamps ts_ns, ts_ns + 1, ...
inline test_run simple_run(uint64_t base_offset, uint32_t n, int64_t ts_ns = 1000,
                           const std::string& prefix = "event-") {
    std::vector<test_event> events;
    for (uint32_t i = 0; i < n; ++i) {
        test_event e;
        e.payload = prefix + std::to_string(base_offset + i);
        e.timestamp_ns = ts_ns + i;
        events.push_back(e);
    }
    return encode_run(base_offset, events);
}

inline stored_topic durable_topic(uint64_t id, const std::string& name, uint32_t partitions = 2) {
    stored_topic t;
    t.id = id;
    t.config.name = name;
    t.config.partitions = partitions;
    t.config.storage = core::storage_mode::durable;
    t.config.retention_bytes = 64ull << 20;
    return t;
}

// Opens the store at `path`, failing the test on error.
inline std::unique_ptr<log_store> open_store(const std::string& path) {
    auto s = log_store::open(store_options{.path = path});
    EXPECT_TRUE(s) << s.err().message;
    if (!s) return nullptr;
    return std::move(*s);
}

// The offsets of the records in a read buffer, checking that they are whole records.
inline std::vector<uint64_t> offsets_in(const std::vector<std::byte>& buffer) {
    std::vector<uint64_t> out;
    size_t pos = 0;
    while (pos < buffer.size()) {
        const core::event_view v = core::event_view::of(buffer.data() + pos);
        out.push_back(v.offset);
        pos += v.record.size();
    }
    EXPECT_EQ(pos, buffer.size());
    return out;
}

}  // namespace es::storage::testing
