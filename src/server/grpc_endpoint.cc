// The gRPC server: EventService, health and reflection on one port.
#include "server/grpc_endpoint.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>

#include "server/grpc_service.h"

namespace es::server {

struct grpc_endpoint::impl {
    std::unique_ptr<grpc_event_service> service;
    std::unique_ptr<grpc::Server> server;
    uint16_t port = 0;
    bool shut_down = false;
};

grpc_endpoint::grpc_endpoint(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

grpc_endpoint::~grpc_endpoint() {
    shutdown(0);
}

result<std::unique_ptr<grpc_endpoint>> grpc_endpoint::start(core::engine& engine,
                                                            metrics::registry& registry,
                                                            const grpc_endpoint_options& options) {
    auto i = std::make_unique<impl>();
    i->service = std::make_unique<grpc_event_service>(engine, registry, options);
    // Both are process-wide switches that act on the builders made after them.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    int selected = 0;
    const std::string address = options.bind + ":" + std::to_string(options.port);
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected);
    // gRPC sets SO_REUSEPORT by default, which would let a second node bind the same port and
    // share its connections; a port in use must be an error instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
    builder.RegisterService(i->service.get());
    i->server = builder.BuildAndStart();
    if (!i->server || selected == 0) {
        return make_error(errc::io_error, "grpc_port: cannot listen on " + address +
                                              " (in use, or not an address of this machine)");
    }
    i->port = static_cast<uint16_t>(selected);
    i->server->GetHealthCheckService()->SetServingStatus(true);
    return std::unique_ptr<grpc_endpoint>(new grpc_endpoint(std::move(i)));
}

uint16_t grpc_endpoint::port() const noexcept {
    return impl_->port;
}

void grpc_endpoint::shutdown(int grace_ms) {
    if (!impl_ || impl_->shut_down) return;
    impl_->shut_down = true;
    impl_->server->GetHealthCheckService()->SetServingStatus(false);
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
    impl_->server->Wait();
}

}  // namespace es::server
