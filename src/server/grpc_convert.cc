// gRPC edge conversions.
#include "server/grpc_convert.h"

#include <string>

#include "core/event_id.h"

namespace es::server {

namespace v1 = eventstream::v1;

grpc::StatusCode grpc_code_of(errc code) noexcept {
    switch (code) {
        case errc::ok:
            return grpc::StatusCode::OK;
        case errc::invalid_argument:
            return grpc::StatusCode::INVALID_ARGUMENT;
        case errc::not_found:
            return grpc::StatusCode::NOT_FOUND;
        case errc::already_exists:
            return grpc::StatusCode::ALREADY_EXISTS;
        case errc::queue_full:
        case errc::too_large:
            return grpc::StatusCode::RESOURCE_EXHAUSTED;
        case errc::shutting_down:
        case errc::unavailable:
            return grpc::StatusCode::UNAVAILABLE;
        case errc::not_leader:
            return grpc::StatusCode::FAILED_PRECONDITION;
        case errc::not_supported:
            return grpc::StatusCode::UNIMPLEMENTED;
        case errc::timed_out:
            return grpc::StatusCode::DEADLINE_EXCEEDED;
        case errc::config_error:
            return grpc::StatusCode::FAILED_PRECONDITION;
        case errc::io_error:
            return grpc::StatusCode::INTERNAL;
    }
    return grpc::StatusCode::UNKNOWN;
}

grpc::Status grpc_status_of(const error& e, grpc::CallbackServerContext* ctx) {
    if (e.code == errc::queue_full && ctx != nullptr) {
        ctx->AddTrailingMetadata(grpc_retry_delay_key, std::to_string(grpc_retry_delay_ms));
    }
    return grpc::Status(grpc_code_of(e.code), e.message);
}

core::topic_config topic_config_of(const v1::TopicConfig& c) {
    core::topic_config t;
    t.name = c.name();
    if (c.partitions() != 0) t.partitions = c.partitions();
    t.storage = c.storage() == v1::STORAGE_DURABLE ? core::storage_mode::durable
                                                   : core::storage_mode::memory;
    if (c.replication_factor() != 0) t.replication_factor = c.replication_factor();
    if (c.retention_bytes() != 0) t.retention_bytes = c.retention_bytes();
    t.retention_ms = c.retention_ms();
    if (c.max_event_bytes() != 0) t.max_event_bytes = c.max_event_bytes();
    return t;
}

void fill_topic_info(const core::topic_info& info, const std::vector<uint32_t>& leaders,
                     v1::TopicInfo* out) {
    v1::TopicConfig* c = out->mutable_config();
    c->set_name(info.config.name);
    c->set_partitions(info.config.partitions);
    c->set_storage(info.config.storage == core::storage_mode::durable ? v1::STORAGE_DURABLE
                                                                      : v1::STORAGE_MEMORY);
    c->set_replication_factor(info.config.replication_factor);
    c->set_retention_bytes(info.config.retention_bytes);
    c->set_retention_ms(info.config.retention_ms);
    c->set_max_event_bytes(info.config.max_event_bytes);
    out->set_id(info.id);
    for (size_t i = 0; i < info.partitions.size(); ++i) {
        const core::partition_info& p = info.partitions[i];
        v1::PartitionInfo* pi = out->add_partitions();
        pi->set_partition(p.partition);
        pi->set_start_offset(p.start_offset);
        pi->set_end_offset(p.end_offset);
        pi->set_stored_bytes(p.stored_bytes);
        pi->set_leader_node(leaders.at(i));
    }
}

void fill_event(std::string_view topic, uint32_t partition, const core::event_view& v,
                v1::Event* out) {
    out->set_id(core::format_event_id(topic, partition, v.offset));
    out->set_partition(partition);
    out->set_offset(v.offset);
    if (v.has_key) out->set_key(std::string(v.key));
    out->set_payload(std::string(v.payload));
    for (const core::header_in h : v.headers) {
        (*out->mutable_headers())[std::string(h.name)] = std::string(h.value);
    }
    out->set_timestamp_ns(v.timestamp_ns);
}

}  // namespace es::server
