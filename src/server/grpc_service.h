// eventstream.v1.EventService on the engine, with gRPC's callback API: unary calls answer from
// the worker's publish completion, StreamEvents and Subscribe are reactors with bounded
// buffers (see grpc_endpoint_options and docs/grpc.md).
#pragma once

#include <grpcpp/grpcpp.h>

#include "core/engine.h"
#include "eventstream/v1/event_service.grpc.pb.h"
#include "metrics/registry.h"
#include "server/grpc_endpoint.h"

namespace es::server {

class grpc_event_service final : public eventstream::v1::EventService::CallbackService {
  public:
    using EventRequest = eventstream::v1::EventRequest;
    using EventResponse = eventstream::v1::EventResponse;

    grpc_event_service(core::engine& engine, metrics::registry& registry,
                       const grpc_endpoint_options& options);

    grpc::ServerUnaryReactor* SubmitEvent(grpc::CallbackServerContext* ctx,
                                          const EventRequest* request,
                                          EventResponse* response) override;
    grpc::ServerBidiReactor<EventRequest, EventResponse>* StreamEvents(
        grpc::CallbackServerContext* ctx) override;
    grpc::ServerUnaryReactor* QueryMetrics(grpc::CallbackServerContext* ctx,
                                           const eventstream::v1::MetricsRequest* request,
                                           eventstream::v1::MetricsResponse* response) override;
    grpc::ServerWriteReactor<eventstream::v1::SubscribeResponse>* Subscribe(
        grpc::CallbackServerContext* ctx,
        const eventstream::v1::SubscribeRequest* request) override;
    grpc::ServerUnaryReactor* CommitOffset(
        grpc::CallbackServerContext* ctx, const eventstream::v1::CommitOffsetRequest* request,
        eventstream::v1::CommitOffsetResponse* response) override;
    grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* ctx,
                                          const eventstream::v1::CreateTopicRequest* request,
                                          eventstream::v1::TopicInfo* response) override;
    grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx,
                                          const eventstream::v1::DeleteTopicRequest* request,
                                          eventstream::v1::DeleteTopicResponse* response) override;
    grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* ctx,
                                         const eventstream::v1::ListTopicsRequest* request,
                                         eventstream::v1::ListTopicsResponse* response) override;
    grpc::ServerUnaryReactor* DescribeTopic(grpc::CallbackServerContext* ctx,
                                            const eventstream::v1::DescribeTopicRequest* request,
                                            eventstream::v1::TopicInfo* response) override;

    core::engine& engine() noexcept { return engine_; }
    const grpc_endpoint_options& options() const noexcept { return options_; }

    // One event of a SubmitEvent or StreamEvents call, ready for engine::publish. The views
    // point into `request`.
    struct prepared_publish {
        core::topic_ptr topic;
        core::event_in event;
        std::vector<core::header_in> headers;
        core::publish_options options;
        bool wait_for_ack = true;  // false with ACKS_NONE
    };
    result<void> prepare(const EventRequest& request, prepared_publish& out);

    // A batch request (EventRequest.batch), ready for publish_async; what the answer needs of
    // it is copied, so that the request's buffer can be reused at once.
    struct prepared_batch {
        core::topic_ptr topic;
        std::vector<core::event_in> events;  // views into the request
        std::vector<std::vector<core::header_in>> headers;
        bool wait_for_ack = true;
        // For the answer, owned: each event's key (for placing it) and correlation id.
        struct answer_info {
            std::vector<std::string> keys;
            std::vector<bool> has_key;
            std::vector<uint64_t> correlation_ids;
        };
        std::shared_ptr<answer_info> answer;
    };
    result<void> prepare_batch(const EventRequest& request, prepared_batch& out);
    // Publishes a prepared batch; `done` gets the filled response (or the refusal), on a
    // worker thread or this one. The response is built in `reuse`, cleared first: a message
    // answered before keeps its per-event messages and strings allocated for this one.
    void publish_batch(prepared_batch& batch, EventResponse reuse,
                       std::function<void(EventResponse)> done);

  private:
    core::engine& engine_;
    metrics::registry& registry_;
    const grpc_endpoint_options options_;
};

}  // namespace es::server
