// gRPC against the real binary, with the generated stub: every RPC, bad input, deadlines,
// cancelled and abandoned streams (nothing acknowledged is lost), flow control of Subscribe,
// and the standard health and reflection services.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "eventstream/v1/event_service.grpc.pb.h"
#include "tests/integration/server_process_fixture.h"

namespace es::test {
namespace {

namespace v1 = eventstream::v1;
using namespace std::chrono_literals;

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) {
    return std::chrono::system_clock::now() + d;
}

// A minimal protobuf reader for the two standard services we only probe (health, reflection):
// their messages are tiny, and hand-reading them keeps their descriptors out of this process.
struct pb_reader {
    std::string_view s;
    bool varint(uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64 && !s.empty(); shift += 7) {
            const auto b = static_cast<uint8_t>(s.front());
            s.remove_prefix(1);
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }
    // Next field: number, wire type, and for length-delimited fields the bytes.
    bool next(uint32_t& field, uint32_t& type, uint64_t& number, std::string_view& bytes) {
        uint64_t tag = 0;
        if (s.empty() || !varint(tag)) return false;
        field = static_cast<uint32_t>(tag >> 3);
        type = static_cast<uint32_t>(tag & 7);
        if (type == 0) return varint(number);
        if (type == 2) {
            uint64_t n = 0;
            if (!varint(n) || n > s.size()) return false;
            bytes = s.substr(0, n);
            s.remove_prefix(n);
            return true;
        }
        return false;
    }
};

grpc::ByteBuffer bytes_buffer(const std::string& bytes) {
    grpc::Slice slice(bytes);
    return grpc::ByteBuffer(&slice, 1);
}

std::string buffer_bytes(const grpc::ByteBuffer& b) {
    std::vector<grpc::Slice> slices;
    (void)b.Dump(&slices);
    std::string out;
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    return out;
}

// One request, one response, over the generic stub (unary or the first exchange of a stream).
grpc::Status generic_exchange(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& method, const std::string& request,
                              std::string& response) {
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(in(10s));
    auto call = stub.PrepareCall(&ctx, method, &cq);
    void* tag = nullptr;
    bool ok = false;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    grpc::ByteBuffer out = bytes_buffer(request);
    call->Write(out, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::ByteBuffer in_buf;
    call->Read(&in_buf, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    if (ok) response = buffer_bytes(in_buf);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
}

class grpc_test : public server_process_fixture {
  protected:
    void SetUp() override {
        server_process_fixture::SetUp();
        server::ports_record ports;
        node_ = start_ready({}, &ports);
        ASSERT_NE(node_, nullptr);
        channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(ports.grpc),
                                       grpc::InsecureChannelCredentials());
        stub_ = v1::EventService::NewStub(channel_);
    }

    grpc::Status create(const std::string& name, uint32_t partitions = 1,
                        uint32_t max_event_bytes = 0) {
        grpc::ClientContext ctx;
        v1::CreateTopicRequest req;
        req.mutable_config()->set_name(name);
        req.mutable_config()->set_partitions(partitions);
        req.mutable_config()->set_max_event_bytes(max_event_bytes);
        v1::TopicInfo info;
        return stub_->CreateTopic(&ctx, req, &info);
    }

    grpc::Status submit(const std::string& topic, const std::string& payload,
                        v1::EventResponse* resp, v1::Acks acks = v1::ACKS_LEADER,
                        std::optional<uint32_t> partition = std::nullopt) {
        grpc::ClientContext ctx;
        ctx.set_deadline(in(10s));
        v1::EventRequest req;
        req.set_topic(topic);
        req.set_payload(payload);
        req.set_acks(acks);
        if (partition) req.set_partition(*partition);
        return stub_->SubmitEvent(&ctx, req, resp);
    }

    // Every event of partition p from offset 0 up to `count`, as payloads by offset.
    std::vector<std::string> read_all(const std::string& topic, uint32_t p, size_t count) {
        grpc::ClientContext ctx;
        ctx.set_deadline(in(20s));
        v1::SubscribeRequest req;
        req.set_topic(topic);
        req.add_partitions(p);
        req.mutable_start()->set_earliest(true);
        auto reader = stub_->Subscribe(&ctx, req);
        std::vector<std::string> got;
        v1::SubscribeResponse m;
        while (got.size() < count && reader->Read(&m)) {
            if (m.has_event()) {
                EXPECT_EQ(m.event().offset(), got.size());
                got.push_back(m.event().payload());
            }
        }
        ctx.TryCancel();
        (void)reader->Finish();
        return got;
    }

    bool node_alive() {
        grpc::ClientContext ctx;
        ctx.set_deadline(in(10s));
        v1::ListTopicsResponse r;
        return stub_->ListTopics(&ctx, {}, &r).ok() && node_->running();
    }

    server_process* node_ = nullptr;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::EventService::Stub> stub_;
};

TEST_F(grpc_test, topic_admin_and_its_errors) {
    ASSERT_TRUE(create("orders", 3).ok());
    EXPECT_EQ(create("orders").error_code(), grpc::StatusCode::ALREADY_EXISTS);
    const auto bad = create("no spaces allowed");
    EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(bad.error_message().find("topic name"), std::string::npos) << bad.error_message();
    {
        grpc::ClientContext ctx;
        v1::DescribeTopicRequest req;
        req.set_name("orders");
        v1::TopicInfo info;
        ASSERT_TRUE(stub_->DescribeTopic(&ctx, req, &info).ok());
        EXPECT_EQ(info.config().partitions(), 3u);
        EXPECT_EQ(info.partitions_size(), 3);
        EXPECT_EQ(info.config().storage(), v1::STORAGE_MEMORY);
    }
    {
        grpc::ClientContext ctx;
        v1::ListTopicsResponse list;
        ASSERT_TRUE(stub_->ListTopics(&ctx, {}, &list).ok());
        ASSERT_EQ(list.topics_size(), 1);
        EXPECT_EQ(list.topics(0).config().name(), "orders");
    }
    {
        grpc::ClientContext ctx;
        v1::DeleteTopicRequest req;
        req.set_name("orders");
        v1::DeleteTopicResponse r;
        ASSERT_TRUE(stub_->DeleteTopic(&ctx, req, &r).ok());
    }
    grpc::ClientContext ctx;
    v1::DescribeTopicRequest req;
    req.set_name("orders");
    v1::TopicInfo info;
    EXPECT_EQ(stub_->DescribeTopic(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(grpc_test, submit_event_acks_with_offsets_and_maps_errors) {
    ASSERT_TRUE(create("t", 1, 1024).ok());
    v1::EventResponse r;
    ASSERT_TRUE(submit("t", "first", &r).ok());
    EXPECT_EQ(r.offset(), 0u);
    EXPECT_EQ(r.id(), "t.0.0");
    ASSERT_TRUE(submit("t", "second", &r).ok());
    EXPECT_EQ(r.offset(), 1u);
    v1::EventResponse none;
    ASSERT_TRUE(submit("t", "third", &none, v1::ACKS_NONE).ok());
    EXPECT_TRUE(none.id().empty());

    EXPECT_EQ(submit("missing", "x", &r).error_code(), grpc::StatusCode::NOT_FOUND);
    const auto big = submit("t", std::string(4096, 'x'), &r);
    EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << big.error_message();
    EXPECT_EQ(submit("t", "x", &r, v1::ACKS_LEADER, 9).error_code(), grpc::StatusCode::NOT_FOUND);
    {
        grpc::ClientContext ctx;
        v1::EventRequest req;
        req.set_topic("t");
        req.set_acks(static_cast<v1::Acks>(42));
        EXPECT_EQ(stub_->SubmitEvent(&ctx, req, &r).error_code(),
                  grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
        // A deadline already gone: nothing is published.
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() - 1s);
        v1::EventRequest req;
        req.set_topic("t");
        req.set_payload("late");
        EXPECT_EQ(stub_->SubmitEvent(&ctx, req, &r).error_code(),
                  grpc::StatusCode::DEADLINE_EXCEEDED);
    }
    const auto all = read_all("t", 0, 3);
    EXPECT_EQ(all, (std::vector<std::string>{"first", "second", "third"}));
    EXPECT_TRUE(node_alive());
}

TEST_F(grpc_test, stream_events_answers_every_event_in_order_and_goes_on_after_a_refusal) {
    ASSERT_TRUE(create("s", 2).ok());
    grpc::ClientContext ctx;
    ctx.set_deadline(in(30s));
    auto stream = stub_->StreamEvents(&ctx);
    const int n = 3000;  // more than the stream window: reading must pause and resume
    std::thread writer([&] {
        for (int i = 0; i < n; ++i) {
            v1::EventRequest req;
            req.set_topic(i == 1234 ? "nope" : "s");
            req.set_payload("e" + std::to_string(i));
            req.set_partition(static_cast<uint32_t>(i % 2));
            req.set_correlation_id(static_cast<uint64_t>(i));
            if (!stream->Write(req)) break;
        }
        stream->WritesDone();
    });
    std::map<uint32_t, uint64_t> next_offset;
    int answered = 0;
    v1::EventResponse r;
    while (stream->Read(&r)) {
        ASSERT_EQ(r.correlation_id(), static_cast<uint64_t>(answered));
        if (answered == 1234) {
            EXPECT_EQ(r.status_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
            EXPECT_FALSE(r.error().empty());
        } else {
            EXPECT_EQ(r.status_code(), 0) << r.error();
            EXPECT_EQ(r.offset(), next_offset[r.partition()]++);
        }
        ++answered;
    }
    writer.join();
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(answered, n);
    EXPECT_EQ(next_offset[0] + next_offset[1], static_cast<uint64_t>(n - 1));
}

// Batches (EventRequest.batch): one answer per request with one entry per event. Batch sizes
// go down and up and there are more batches than the answers the server keeps for reuse, so
// an answer built in a reused message must carry exactly its own batch's entries.
TEST_F(grpc_test, stream_events_answers_batches_event_by_event) {
    ASSERT_TRUE(create("sb", 1).ok());
    grpc::ClientContext ctx;
    ctx.set_deadline(in(30s));
    auto stream = stub_->StreamEvents(&ctx);
    const std::vector<int> sizes = {100, 3, 50, 1,   100, 7,  20, 2,  99, 5,
                                    64,  1, 30, 100, 4,   10, 1,  77, 6,  42};
    const int refused = 8;  // this batch has an event with a negative timestamp
    std::thread writer([&] {
        uint64_t correlation = 0;
        for (size_t b = 0; b < sizes.size(); ++b) {
            v1::EventRequest req;
            req.set_topic("sb");
            req.set_correlation_id(1000 + b);
            for (int i = 0; i < sizes[b]; ++i) {
                v1::EventRequest* e = req.add_batch();
                e->set_payload("b" + std::to_string(b) + "e" + std::to_string(i));
                e->set_correlation_id(correlation++);
                if (static_cast<int>(b) == refused && i == 3) e->set_timestamp_ns(-1);
            }
            if (!stream->Write(req)) break;
        }
        stream->WritesDone();
    });
    uint64_t next_offset = 0;
    uint64_t correlation = 0;
    size_t answered = 0;
    v1::EventResponse r;
    while (stream->Read(&r)) {
        ASSERT_LT(answered, sizes.size());
        EXPECT_EQ(r.correlation_id(), 1000 + answered);
        const int size = sizes[answered];
        if (static_cast<int>(answered) == refused) {
            EXPECT_EQ(r.status_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
            EXPECT_NE(r.error().find("batch[3].timestamp_ns"), std::string::npos) << r.error();
            EXPECT_EQ(r.batch_size(), 0);
            correlation += static_cast<uint64_t>(size);
        } else {
            EXPECT_EQ(r.status_code(), 0) << r.error();
            EXPECT_EQ(r.batch_size(), size);
            for (const auto& e : r.batch()) {
                EXPECT_EQ(e.correlation_id(), correlation++);
                EXPECT_EQ(e.partition(), 0u);
                EXPECT_EQ(e.offset(), next_offset);
                EXPECT_EQ(e.id(), "sb.0." + std::to_string(next_offset));
                EXPECT_EQ(e.status_code(), 0);
                ++next_offset;
            }
        }
        ++answered;
    }
    writer.join();
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(answered, sizes.size());
    // Every accepted event is stored once, in order.
    const auto got = read_all("sb", 0, next_offset);
    ASSERT_EQ(got.size(), next_offset);
    EXPECT_EQ(got.front(), "b0e0");
    EXPECT_EQ(got.back(), "b19e41");
}

TEST_F(grpc_test, a_cancelled_or_abandoned_stream_keeps_every_acknowledged_event) {
    ASSERT_TRUE(create("c").ok());
    std::vector<std::string> acked;
    for (int round = 0; round < 2; ++round) {
        // A channel of its own, so that round 1 can drop it without a goodbye.
        server::ports_record ports = *server::read_ports_file(node_->data_dir());
        auto own = grpc::CreateChannel("127.0.0.1:" + std::to_string(ports.grpc),
                                       grpc::InsecureChannelCredentials());
        auto stub = v1::EventService::NewStub(own);
        auto ctx = std::make_unique<grpc::ClientContext>();
        auto stream = stub->StreamEvents(ctx.get());
        for (int i = 0; i < 200; ++i) {
            v1::EventRequest req;
            req.set_topic("c");
            req.set_payload("r" + std::to_string(round) + "-" + std::to_string(i));
            req.set_correlation_id(static_cast<uint64_t>(i));
            ASSERT_TRUE(stream->Write(req));
        }
        v1::EventResponse r;
        for (int i = 0; i < 50 && stream->Read(&r); ++i) {
            ASSERT_EQ(r.status_code(), 0);
            acked.push_back("r" + std::to_string(round) + "-" + std::to_string(r.correlation_id()));
        }
        if (round == 0) {
            ctx->TryCancel();
            (void)stream->Finish();
        } else {
            // Abandoned: the stream, its context and the channel just go away.
            stream.release();  // NOLINT: deliberately leaked, as a crashed client would
            ctx.release();
        }
    }
    ASSERT_TRUE(node_alive());
    // Everything acknowledged is there, in order; more may be (acked but not yet read).
    v1::TopicInfo info;
    {
        grpc::ClientContext ctx;
        v1::DescribeTopicRequest req;
        req.set_name("c");
        ASSERT_TRUE(stub_->DescribeTopic(&ctx, req, &info).ok());
    }
    const auto stored = read_all("c", 0, info.partitions(0).end_offset());
    size_t at = 0;
    for (const auto& a : acked) {
        while (at < stored.size() && stored[at] != a) ++at;
        ASSERT_LT(at, stored.size()) << "acknowledged event " << a << " is missing";
    }
}

TEST_F(grpc_test, subscribe_with_a_small_buffer_still_delivers_everything_in_order) {
    ASSERT_TRUE(create("sub").ok());
    for (int i = 0; i < 300; ++i) {
        v1::EventResponse r;
        ASSERT_TRUE(submit("sub", "m" + std::to_string(i), &r).ok());
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(in(20s));
    v1::SubscribeRequest req;
    req.set_topic("sub");
    req.mutable_start()->set_offset(100);
    req.set_max_buffered_events(4);
    auto reader = stub_->Subscribe(&ctx, req);
    v1::SubscribeResponse m;
    uint64_t expect = 100;
    while (expect < 300 && reader->Read(&m)) {
        ASSERT_TRUE(m.has_event());
        EXPECT_EQ(m.event().offset(), expect);
        EXPECT_EQ(m.event().payload(), "m" + std::to_string(expect));
        EXPECT_EQ(m.event().id(), "sub.0." + std::to_string(expect));
        ++expect;
    }
    EXPECT_EQ(expect, 300u);
    ctx.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

    grpc::ClientContext bad_ctx;
    v1::SubscribeRequest bad;
    bad.set_topic("nope");
    auto bad_reader = stub_->Subscribe(&bad_ctx, bad);
    EXPECT_FALSE(bad_reader->Read(&m));
    EXPECT_EQ(bad_reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(grpc_test, commit_offset_then_subscribe_from_the_committed_offset) {
    ASSERT_TRUE(create("g").ok());
    for (int i = 0; i < 20; ++i) {
        v1::EventResponse r;
        ASSERT_TRUE(submit("g", "v" + std::to_string(i), &r).ok());
    }
    {
        grpc::ClientContext ctx;
        v1::CommitOffsetRequest req;
        req.set_topic("g");
        req.set_group("readers");
        req.set_partition(0);
        req.set_offset(15);
        v1::CommitOffsetResponse r;
        ASSERT_TRUE(stub_->CommitOffset(&ctx, req, &r).ok());
        grpc::ClientContext bad_ctx;
        req.set_group("bad group");
        EXPECT_EQ(stub_->CommitOffset(&bad_ctx, req, &r).error_code(),
                  grpc::StatusCode::INVALID_ARGUMENT);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(in(10s));
    v1::SubscribeRequest req;
    req.set_topic("g");
    req.set_group("readers");
    req.mutable_start()->set_committed_else_earliest(true);
    auto reader = stub_->Subscribe(&ctx, req);
    v1::SubscribeResponse m;
    ASSERT_TRUE(reader->Read(&m));
    EXPECT_EQ(m.event().offset(), 15u);
    ctx.TryCancel();
    (void)reader->Finish();
}

TEST_F(grpc_test, query_metrics_filters_and_parses_the_samples) {
    ASSERT_TRUE(create("m").ok());
    grpc::ClientContext ctx;
    v1::MetricsRequest req;
    req.add_name_prefixes("eventstream_topics");
    v1::MetricsResponse r;
    ASSERT_TRUE(stub_->QueryMetrics(&ctx, req, &r).ok());
    EXPECT_NE(r.prometheus_text().find("# TYPE eventstream_topics gauge"), std::string::npos);
    EXPECT_EQ(r.prometheus_text().find("eventstream_events_appended_total"), std::string::npos);
    ASSERT_EQ(r.samples_size(), 1);
    EXPECT_EQ(r.samples(0).name(), "eventstream_topics");
    EXPECT_EQ(r.samples(0).value(), 1.0);
}

TEST_F(grpc_test, health_and_reflection_are_served) {
    std::string response;
    // grpc.health.v1.Health/Check with an empty service name: status (field 1) SERVING (1).
    auto s = generic_exchange(channel_, "/grpc.health.v1.Health/Check", "", response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    pb_reader health{response};
    uint32_t field = 0, type = 0;
    uint64_t number = 0;
    std::string_view bytes;
    ASSERT_TRUE(health.next(field, type, number, bytes));
    EXPECT_EQ(field, 1u);
    EXPECT_EQ(number, 1u);

    // grpc.reflection.v1alpha: list_services (field 7) answered by list_services_response
    // (field 6) naming our service.
    const std::string list_services("\x3a\x00", 2);
    s = generic_exchange(channel_, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                         list_services, response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> services;
    pb_reader top{response};
    while (top.next(field, type, number, bytes)) {
        if (field != 6) continue;
        pb_reader list{bytes};
        std::string_view entry;
        while (list.next(field, type, number, entry)) {
            pb_reader svc{entry};
            std::string_view name;
            if (svc.next(field, type, number, name)) services.emplace_back(name);
        }
    }
    EXPECT_NE(std::find(services.begin(), services.end(), "eventstream.v1.EventService"),
              services.end());
}

}  // namespace
}  // namespace es::test
