// native_subscription: EVENTS frames built from record runs, released only against the credit
// the client granted, and the credit the workers see; plus the small translations of
// native_convert.
#include "server/native_subscription.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.h"
#include "protocol/codec.h"
#include "server/native_convert.h"
#include "server/native_options.h"

namespace es::server {
namespace {

// A run of `n` records with 8-byte payloads (40 bytes each).
struct run_holder {
    std::unique_ptr<core::event_batch> batch;
    core::record_run run() const { return batch->records(); }
};
run_holder make_run(int n) {
    run_holder h{core::event_batch::create(4096)};
    for (int i = 0; i < n; ++i) {
        EXPECT_TRUE(h.batch->append(core::event_in::without_key("payload" + std::to_string(i))));
    }
    return h;
}

TEST(native_subscription, frames_wait_for_credit) {
    int wakes = 0;
    native_subscription s(7, 99, 3, 1 << 20, [&wakes] { ++wakes; });
    EXPECT_EQ(s.credit(0).events, 3u);

    auto two = make_run(2);
    s.on_events(0, two.run());
    EXPECT_EQ(wakes, 1);
    EXPECT_EQ(s.credit(0).events, 1u);  // 3 granted, 2 held
    std::deque<std::string> out;
    size_t moved = 0;
    EXPECT_EQ(s.take(out, 1 << 20, moved), 2u);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(moved, out[0].size());
    auto f = protocol::parse_single_frame(out[0], protocol::max_frame_bytes_limit);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, protocol::message_type::events);
    EXPECT_EQ(f->header.request_id, 99u);
    auto e = protocol::decode_events(f->body);
    ASSERT_TRUE(e) << e.err().message;
    EXPECT_EQ(e->subscription_id, 7u);
    EXPECT_EQ(e->count, 2u);
    EXPECT_EQ(s.credit(0).events, 1u);  // 1 left

    // Two partitions deliver at once against the same credit: the frame that races past it is
    // held, not sent, and nothing more is taken until credit comes.
    auto one = make_run(1);
    s.on_events(0, one.run());
    s.on_events(1, one.run());
    EXPECT_EQ(s.credit(0).events, 0u);
    out.clear();
    EXPECT_EQ(s.take(out, 1 << 20, moved), 1u);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(s.credit(1).events, 0u);
    ASSERT_TRUE(s.grant(1, 0));
    out.clear();
    EXPECT_EQ(s.take(out, 1 << 20, moved), 1u);
    EXPECT_EQ(out.size(), 1u);
}

TEST(native_subscription, byte_credit_and_gaps) {
    native_subscription s(1, 1, 100, 50, [] {});
    auto two = make_run(2);  // 80 bytes of records
    EXPECT_EQ(s.credit(0).bytes, 50u);
    s.on_events(0, two.run());  // more than the bytes: held whole
    s.on_gap(0, 5, 9);
    std::deque<std::string> out;
    size_t moved = 0;
    EXPECT_EQ(s.take(out, 1 << 20, moved), 0u);
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(s.grant(0, 30));
    EXPECT_EQ(s.take(out, 1 << 20, moved), 2u);
    ASSERT_EQ(out.size(), 2u);  // the events, then the gap (which takes no credit)
    auto g = protocol::parse_single_frame(out[1], protocol::max_frame_bytes_limit);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->header.type, protocol::message_type::gap);
    EXPECT_EQ(protocol::decode_gap(g->body)->first, 5u);
}

TEST(native_subscription, credit_is_capped_and_checked) {
    native_subscription s(1, 1, UINT32_MAX, UINT64_MAX, [] {});
    EXPECT_EQ(s.credit(0).events, k_native_held_events_max);
    EXPECT_EQ(s.credit(0).bytes, k_native_held_bytes_max);
    auto r = s.grant(1, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(native_convert, acks_sorted_and_settings_defaults) {
    std::vector<core::publish_outcome> outcomes(3);
    outcomes[0].partition = 2;
    outcomes[0].base_offset = 5;
    outcomes[1].partition = 0;
    outcomes[1].base_offset = 9;
    outcomes[2].partition = 2;
    outcomes[2].base_offset = 1;
    outcomes[2].duplicate = true;
    outcomes[2].known_offset = false;
    // By partition; one partition's batches in the order they came (the order of its events),
    // not by offset: a duplicate whose offset is not known carries 0.
    auto ack = publish_ack_of(outcomes, /*offset_unknown=*/true);
    ASSERT_EQ(ack.batches.size(), 3u);
    EXPECT_EQ(ack.batches[0].partition, 0u);
    EXPECT_EQ(ack.batches[1].partition, 2u);
    EXPECT_EQ(ack.batches[1].base_offset, 5u);
    EXPECT_FALSE(ack.batches[1].duplicate);
    EXPECT_EQ(ack.batches[2].partition, 2u);
    EXPECT_EQ(ack.batches[2].base_offset, 0u);
    EXPECT_TRUE(ack.batches[2].duplicate);
    EXPECT_FALSE(ack.batches[2].offset_known);
    EXPECT_TRUE(ack.batches[1].offset_known);
    // A client without capability_duplicate_offset_unknown gets duplicate 1 and offset 0.
    auto old = publish_ack_of(outcomes, false);
    EXPECT_TRUE(old.batches[2].duplicate);
    EXPECT_TRUE(old.batches[2].offset_known);
    EXPECT_EQ(old.batches[2].base_offset, 0u);

    protocol::topic_settings t;
    t.name = "x";
    t.retention_bytes = 0;
    t.max_event_bytes = 0;
    auto c = topic_config_of(t);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->retention_bytes, core::topic_config{}.retention_bytes);
    EXPECT_EQ(c->max_event_bytes, core::topic_config{}.max_event_bytes);
    t.storage = 2;
    EXPECT_FALSE(topic_config_of(t));
}

}  // namespace
}  // namespace es::server
