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

  private:
    core::engine& engine_;
    metrics::registry& registry_;
    const grpc_endpoint_options options_;
};

}  // namespace es::server
