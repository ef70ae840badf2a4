// Record encoding and batches: what goes in comes back out, byte for byte, within the limits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/batch.h"

namespace es::core {
namespace {

TEST(batch, round_trips_key_payload_headers_and_timestamp) {
    const header_in headers[] = {{"trace-id", "abc"}, {"empty", ""}};
    event_in e{"user-42", true, "hello world", headers, 1234};
    auto b = event_batch::create(1024);
    ASSERT_TRUE(b->append(e));
    ASSERT_EQ(b->count(), 1u);
    ASSERT_EQ(b->bytes(), encoded_size(e));
    ASSERT_EQ(b->bytes() % record_alignment, 0u);

    const event_view v = event_view::of(b->data());
    EXPECT_TRUE(v.has_key);
    EXPECT_EQ(v.key, "user-42");
    EXPECT_EQ(v.payload, "hello world");
    EXPECT_EQ(v.timestamp_ns, 1234);
    EXPECT_EQ(v.offset, 0u);
    EXPECT_EQ(v.record.size(), b->bytes());
    std::vector<std::pair<std::string, std::string>> got;
    for (auto h : v.headers) got.emplace_back(h.name, h.value);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"trace-id", "abc"}));
    EXPECT_EQ(got[1], (std::pair<std::string, std::string>{"empty", ""}));
}

TEST(batch, empty_key_is_a_key_and_no_key_is_not) {
    auto b = event_batch::create(256);
    ASSERT_TRUE(b->append(event_in::with_key("", "a")));
    ASSERT_TRUE(b->append(event_in::without_key("b")));
    const event_view first = event_view::of(b->data());
    const event_view second = event_view::of(b->data() + first.record.size());
    EXPECT_TRUE(first.has_key);
    EXPECT_TRUE(first.key.empty());
    EXPECT_FALSE(second.has_key);
    EXPECT_EQ(second.payload, "b");
}

TEST(batch, append_refuses_what_does_not_fit_and_changes_nothing) {
    const std::string payload(100, 'x');
    const size_t one = encoded_size(event_in::without_key(payload));
    auto b = event_batch::create(2 * one + one / 2);
    EXPECT_TRUE(b->append(event_in::without_key(payload)));
    EXPECT_TRUE(b->append(event_in::without_key(payload)));
    EXPECT_FALSE(b->append(event_in::without_key(payload)));
    EXPECT_EQ(b->count(), 2u);
    EXPECT_EQ(b->bytes(), 2 * one);
}

TEST(batch, padding_is_zeroed_so_equal_events_encode_equally) {
    auto a = event_batch::create(128);
    auto b = event_batch::create(128);
    ASSERT_TRUE(a->append(event_in::with_key("k", "odd")));
    ASSERT_TRUE(b->append(event_in::with_key("k", "odd")));
    ASSERT_EQ(a->bytes(), b->bytes());
    EXPECT_EQ(std::memcmp(a->data(), b->data(), a->bytes()), 0);
    // Over memory that held anything before: every body length around the 8-byte alignment,
    // with and without a header, encodes to the same bytes, its padding zero.
    const header_in header[] = {{"h", "v"}};
    for (size_t n = 0; n < 20; ++n) {
        for (const bool with_header : {false, true}) {
            event_in e = event_in::with_key(std::string_view("keykeykey", n % 4),
                                            std::string_view("payloadpayloadpayload", n));
            if (with_header) e.headers = header;
            std::vector<std::byte> x(encoded_size(e), std::byte{0xAB});
            std::vector<std::byte> y(encoded_size(e), std::byte{0xCD});
            ASSERT_EQ(encode_record(e, x.data()), x.size());
            ASSERT_EQ(encode_record(e, y.data()), y.size());
            EXPECT_EQ(x, y) << n << " " << with_header;
            const size_t body = record_header_bytes + n % 4 + n + (with_header ? 8 : 0);
            for (size_t i = body; i < x.size(); ++i) EXPECT_EQ(x[i], std::byte{0}) << n;
        }
    }
}

TEST(batch, validate_event_enforces_limits_with_clear_messages) {
    const std::string big(1001, 'x');
    auto s = validate_event(event_in::without_key(big), 1000);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::too_large);
    EXPECT_NE(s.err().message.find("max_event_bytes is 1000"), std::string::npos);

    EXPECT_TRUE(validate_event(event_in::without_key(std::string(1000, 'x')), 1000));

    const std::string long_name(max_header_name_bytes + 1, 'n');
    const header_in bad_name[] = {{long_name, "v"}};
    event_in e{{}, false, "p", bad_name, 0};
    s = validate_event(e, 1 << 20);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::too_large);

    const header_in empty_name[] = {{"", "v"}};
    e.headers = empty_name;
    s = validate_event(e, 1 << 20);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::invalid_argument);

    const std::string huge_value(max_headers_bytes, 'v');
    const header_in too_many[] = {{"h", huge_value}};
    e.headers = too_many;
    s = validate_event(e, max_event_bytes_limit);
    ASSERT_FALSE(s);
    EXPECT_NE(s.err().message.find("headers take"), std::string::npos);
}

}  // namespace
}  // namespace es::core
