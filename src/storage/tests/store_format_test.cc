// The on-disk layout helpers: keys sort in log order and decode to what was encoded; values
// of the wrong size are refused; topic metadata round-trips and bad metadata is an error;
// record checks accept what the encoder writes and nothing damaged.
#include "storage/store_format.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/crc32c.h"
#include "storage/record_check.h"
#include "storage/rocksdb_crc32c.h"
#include "storage/tests/store_fixture.h"
#include "storage/topic_meta.h"

namespace es::storage {
namespace {

using format::key_kind;

TEST(store_format, batch_keys_sort_by_partition_then_offset) {
    const std::vector<std::pair<uint32_t, uint64_t>> order = {
        {0, 0},          {0, 1}, {0, 255}, {0, 256},       {0, 1ull << 32},
        {0, UINT64_MAX}, {1, 0}, {256, 5}, {UINT32_MAX, 0}};
    for (size_t i = 0; i + 1 < order.size(); ++i) {
        const auto a = format::batch_key(key_kind::data, order[i].first, order[i].second);
        const auto b = format::batch_key(key_kind::data, order[i + 1].first, order[i + 1].second);
        EXPECT_LT(a, b) << i;
    }
    // Every kind of key sits in its own range.
    EXPECT_LT(format::batch_key(key_kind::data, UINT32_MAX, UINT64_MAX),
              format::batch_key(key_kind::index, 0, 0));
    EXPECT_LT(format::batch_key(key_kind::index, UINT32_MAX, UINT64_MAX),
              format::partition_key(key_kind::meta, 0));
    EXPECT_LT(format::partition_key(key_kind::meta, UINT32_MAX), format::group_offset_key(0, "a"));
}

TEST(store_format, keys_decode_to_what_was_encoded) {
    const auto k = format::batch_key(key_kind::index, 70000, 0x0102030405060708ull);
    ASSERT_EQ(k.size(), format::batch_key_bytes);
    const auto f = format::parse_batch_key(k, key_kind::index);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->partition, 70000u);
    EXPECT_EQ(f->base_offset, 0x0102030405060708ull);
    EXPECT_FALSE(format::parse_batch_key(k, key_kind::data));
    EXPECT_FALSE(format::parse_batch_key(k.substr(1), key_kind::index));
    EXPECT_EQ(format::parse_meta_key(format::partition_key(key_kind::meta, 9)), 9u);
    EXPECT_FALSE(format::parse_meta_key(format::partition_key(key_kind::data, 9)));
    EXPECT_EQ(format::parse_topic_key(format::topic_key(77)), 77u);
    EXPECT_FALSE(format::parse_topic_key("topic/"));
}

TEST(store_format, column_family_names) {
    EXPECT_EQ(format::column_family_name(17), "t17");
    EXPECT_EQ(format::parse_column_family_name("t17"), 17u);
    EXPECT_EQ(format::parse_column_family_name("t18446744073709551615"), UINT64_MAX);
    for (const char* bad :
         {"", "t", "t0", "t01", "x1", "t1a", "default", "t18446744073709551616", "t-1"}) {
        EXPECT_FALSE(format::parse_column_family_name(bad)) << bad;
    }
}

TEST(store_format, values_round_trip_and_wrong_sizes_are_refused) {
    const auto iv = format::decode_index_value(format::encode_index_value({3, 4096, -5}));
    ASSERT_TRUE(iv);
    EXPECT_EQ(iv->count, 3u);
    EXPECT_EQ(iv->bytes, 4096u);
    EXPECT_EQ(iv->max_timestamp_ns, -5);
    EXPECT_FALSE(format::decode_index_value("short"));

    const auto mv = format::decode_meta_value(format::encode_meta_value({10, 20}));
    ASSERT_TRUE(mv);
    EXPECT_EQ(mv->start_offset, 10u);
    EXPECT_EQ(mv->end_offset, 20u);
    EXPECT_FALSE(format::decode_meta_value(format::encode_meta_value({21, 20})));
    EXPECT_FALSE(format::decode_meta_value(""));

    EXPECT_EQ(format::decode_u64_value(format::encode_u64_value(UINT64_MAX)), UINT64_MAX);
    EXPECT_FALSE(format::decode_u64_value("1234567"));
    EXPECT_EQ(format::format_marker(), "eventstream-store 1");
}

TEST(topic_meta, round_trips) {
    stored_topic t = testing::durable_topic(12, "a.b-c_d", 17);
    t.config.replication_factor = 3;
    t.config.retention_bytes = 5ull << 40;
    t.config.retention_ms = 86400000;
    t.config.max_event_bytes = 12345;
    auto back = decode_topic_meta(encode_topic_meta(t));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->id, 12u);
    EXPECT_EQ(back->config.name, "a.b-c_d");
    EXPECT_EQ(back->config.partitions, 17u);
    EXPECT_EQ(back->config.storage, core::storage_mode::durable);
    EXPECT_EQ(back->config.replication_factor, 3u);
    EXPECT_EQ(back->config.retention_bytes, 5ull << 40);
    EXPECT_EQ(back->config.retention_ms, 86400000u);
    EXPECT_EQ(back->config.max_event_bytes, 12345u);
}

TEST(topic_meta, bad_metadata_is_an_io_error) {
    const std::string good = encode_topic_meta(testing::durable_topic(1, "t"));
    for (const std::string& bad :
         {std::string(""), std::string("[]"), std::string("{"), good.substr(0, good.size() - 1),
          std::string(R"({"id":1,"name":"t","partitions":0,"storage":"durable",)"
                      R"("replication_factor":1,"retention_bytes":1,"retention_ms":0,)"
                      R"("max_event_bytes":1})"),
          std::string(R"({"id":1,"name":"t","partitions":1,"storage":"disk",)"
                      R"("replication_factor":1,"retention_bytes":1,"retention_ms":0,)"
                      R"("max_event_bytes":1})"),
          std::string(R"({"id":-1,"name":"t","partitions":1,"storage":"durable",)"
                      R"("replication_factor":1,"retention_bytes":1,"retention_ms":0,)"
                      R"("max_event_bytes":1})"),
          std::string(R"({"id":1,"name":"t","partitions":1,"storage":"durable",)"
                      R"("replication_factor":1,"retention_bytes":1,"retention_ms":0,)"
                      R"("max_event_bytes":4294967296})")}) {
        auto r = decode_topic_meta(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.err().code, errc::io_error);
        EXPECT_NE(r.err().message.find("corrupt topic metadata"), std::string::npos);
    }
}

TEST(record_check, accepts_encoded_records_and_refuses_damage) {
    testing::test_event e;
    e.key = "k";
    e.has_key = true;
    e.payload = "payload";
    e.timestamp_ns = 5;
    e.headers = {{"n", "v"}};
    const auto run = testing::encode_run(7, {e});
    const std::span<const std::byte> all(run.bytes);
    EXPECT_EQ(checked_record_size(all, 7), run.bytes.size());
    EXPECT_EQ(checked_record_size(all, 8), 0u);                        // wrong offset
    EXPECT_EQ(checked_record_size(all.first(all.size() - 8), 7), 0u);  // cut short
    EXPECT_EQ(checked_record_size(all.first(16), 7), 0u);              // header cut short

    auto damaged = [&](size_t field, uint32_t value, int bytes) {
        auto copy = run.bytes;
        if (bytes == 2) {
            core::store_le<uint16_t>(copy.data() + field, static_cast<uint16_t>(value));
        } else {
            core::store_le<uint32_t>(copy.data() + field, value);
        }
        return checked_record_size(copy, 7);
    };
    EXPECT_EQ(damaged(core::record_field::record_bytes, 8, 4), 0u);
    EXPECT_EQ(damaged(core::record_field::record_bytes, run.bytes.size() + 8, 4), 0u);
    EXPECT_EQ(damaged(core::record_field::record_bytes, run.bytes.size() - 1, 4), 0u);
    EXPECT_EQ(damaged(core::record_field::key_bytes, UINT32_MAX, 4), 0u);
    EXPECT_EQ(damaged(core::record_field::payload_bytes, 1000, 4), 0u);
    EXPECT_EQ(damaged(core::record_field::headers_bytes, 3, 2), 0u);

    auto zero_ts = run.bytes;
    core::store_le<int64_t>(zero_ts.data() + core::record_field::timestamp_ns, 0);
    EXPECT_EQ(checked_record_size(zero_ts, 7), 0u);
}

}  // namespace
}  // namespace es::storage

// RocksDB's checksums run on our CRC-32C (rocksdb_crc32c.cc): the function librocksdb binds to
// is ours, and through that same binding it gives the standard CRC-32C values.
TEST(rocksdb_crc32c, rocksdb_binds_to_ours_and_it_gives_the_standard_values) {
    if (!es::crc32c_uses_instruction()) GTEST_SKIP() << "this CPU has no SSE4.2";
    EXPECT_TRUE(es::storage::rocksdb_crc32c_accelerated());
    using extend_fn = uint32_t (*)(uint32_t, const char*, size_t);
    auto extend =
        reinterpret_cast<extend_fn>(dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm"));
    ASSERT_NE(extend, nullptr);
    // RFC 3720's check value and an extension in two pieces.
    const std::string digits = "123456789";
    EXPECT_EQ(extend(0, digits.data(), digits.size()), 0xE3069283u);
    EXPECT_EQ(extend(extend(0, digits.data(), 4), digits.data() + 4, 5), 0xE3069283u);
    const std::string zeros(32, '\0');
    EXPECT_EQ(extend(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}
