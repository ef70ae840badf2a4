// Conversions at the gRPC edge: our error codes to gRPC status codes, and topics and events
// between the engine's types and eventstream.v1 messages.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "core/engine.h"
#include "eventstream/v1/event_service.pb.h"

namespace es::server {

// How long a client told RESOURCE_EXHAUSTED should wait before it retries (ms).
inline constexpr uint32_t grpc_retry_delay_ms = 10;
// The trailing metadata key that carries that delay.
inline constexpr const char* grpc_retry_delay_key = "retry-delay-ms";

grpc::StatusCode grpc_code_of(errc code) noexcept;
// The status for an error; for queue_full it also puts the retry delay in ctx's trailing
// metadata (when ctx is not null).
grpc::Status grpc_status_of(const error& e, grpc::CallbackServerContext* ctx = nullptr);

// A TopicConfig with its zeros replaced by the defaults. The engine checks the rest.
core::topic_config topic_config_of(const eventstream::v1::TopicConfig& c);
// `leaders`: each partition's leader (core::partition_leaders).
void fill_topic_info(const core::topic_info& info, const std::vector<uint32_t>& leaders,
                     eventstream::v1::TopicInfo* out);
void fill_event(std::string_view topic, uint32_t partition, const core::event_view& v,
                eventstream::v1::Event* out);

}  // namespace es::server
