// Records of an EVENTS frame decoded by the client: keys, headers, padding, and records whose
// sizes do not add up.
#include "client/wire.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fake_server.h"

namespace es::client {
namespace {

// A record with one header "h" -> "v", by hand in the layout of core/record_format.h.
std::string record_with_header(uint64_t offset) {
    const std::string key = "k", value = "value", name = "h", hvalue = "v";
    const uint16_t headers_bytes = uint16_t(6 + name.size() + hvalue.size());
    const size_t total = (32 + key.size() + value.size() + headers_bytes + 7) & ~size_t(7);
    std::string r(total, '\0');
    const uint32_t rb = uint32_t(total), kb = uint32_t(key.size()), pb = uint32_t(value.size());
    const uint16_t flags = 1;
    const int64_t ts = 123;
    std::memcpy(&r[0], &rb, 4);
    std::memcpy(&r[4], &kb, 4);
    std::memcpy(&r[8], &pb, 4);
    std::memcpy(&r[12], &headers_bytes, 2);
    std::memcpy(&r[14], &flags, 2);
    std::memcpy(&r[16], &ts, 8);
    std::memcpy(&r[24], &offset, 8);
    size_t at = 32;
    std::memcpy(&r[at], key.data(), kb), at += kb;
    std::memcpy(&r[at], value.data(), pb), at += pb;
    const uint16_t nb = uint16_t(name.size());
    const uint32_t vb = uint32_t(hvalue.size());
    std::memcpy(&r[at], &nb, 2), at += 2;
    std::memcpy(&r[at], &vb, 4), at += 4;
    std::memcpy(&r[at], name.data(), nb), at += nb;
    std::memcpy(&r[at], hvalue.data(), vb);
    return r;
}

// Checks, then decodes, all `count` records of an EVENTS frame into `out`, as the consumer does
// one record at a time.
eventstream::status decode_records(std::string_view records, uint32_t count,
                                   const std::string& topic, uint32_t partition,
                                   std::vector<eventstream::consumer_record>& out) {
    auto checked = check_records(records, count, partition);
    if (!checked) return std::move(checked).err();
    size_t at = 0;
    for (uint32_t i = 0; i < count; ++i) {
        eventstream::consumer_record r;
        at += decode_record(records, at, topic, partition, r);
        out.push_back(std::move(r));
    }
    return {};
}

TEST(wire, decodes_keys_values_headers_and_offsets) {
    const std::string key = "key";
    const std::string records =
        record_with_header(5) + test::make_record(6, "plain") + test::make_record(7, "", &key);
    std::vector<eventstream::consumer_record> out;
    ASSERT_TRUE(decode_records(records, 3, "t", 2, out));
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].offset, 5u);
    EXPECT_EQ(out[0].key, std::optional<std::string>("k"));
    EXPECT_EQ(out[0].value, "value");
    EXPECT_EQ(out[0].timestamp_ns, 123);
    ASSERT_EQ(out[0].headers.size(), 1u);
    EXPECT_EQ(out[0].headers[0].name, "h");
    EXPECT_EQ(out[0].headers[0].value, "v");
    EXPECT_FALSE(out[1].key);
    EXPECT_EQ(out[1].value, "plain");
    EXPECT_EQ(out[2].key, std::optional<std::string>("key"));  // empty value, key present
    EXPECT_EQ(out[2].value, "");
    for (const auto& r : out) {
        EXPECT_EQ(r.partition, 2u);
        EXPECT_EQ(r.topic, "t");
    }
}

TEST(wire, the_size_of_an_event_is_its_record_size) {
    eventstream::event e;
    e.key = "k";
    e.value = "value";
    e.headers.push_back({"h", "v"});
    EXPECT_EQ(event_wire_bytes(e), record_with_header(0).size());
    eventstream::event plain;
    plain.value = "plain";
    EXPECT_EQ(event_wire_bytes(plain), test::make_record(0, "plain").size());
}

TEST(wire, records_whose_sizes_do_not_fit_are_a_protocol_error) {
    std::vector<eventstream::consumer_record> out;
    std::string r = test::make_record(0, "abc");
    EXPECT_FALSE(decode_records(r.substr(0, 20), 1, "t", 0, out));  // truncated header
    EXPECT_FALSE(decode_records(r, 2, "t", 0, out));                // fewer records than said
    EXPECT_FALSE(decode_records(r + r, 1, "t", 0, out));            // bytes left over
    std::string lying = r;
    const uint32_t huge = 1u << 30;
    std::memcpy(&lying[8], &huge, 4);  // payload longer than the record
    auto s = decode_records(lying, 1, "t", 0, out);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::protocol_error);
}

TEST(wire, server_error_codes_map_to_client_codes) {
    EXPECT_EQ(error_from_wire(4, "x").code, eventstream::error_code::queue_full);
    EXPECT_TRUE(error_from_wire(4, "x").retryable());
    EXPECT_EQ(error_from_wire(2, "x").code, eventstream::error_code::not_found);
    EXPECT_EQ(error_from_wire(999, "x").code, eventstream::error_code::protocol_error);
}

}  // namespace
}  // namespace es::client
