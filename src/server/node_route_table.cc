// The node's whole route table, in one place for node.cc and the OpenAPI check. Apart from
// node_routes.cc so that the fuzzers can take the health and metrics routes without the engine.
#include "server/node_routes.h"
#include "server/rest_service.h"

namespace es::server {

void add_node_routes(http_router& router, std::function<node_state()> state, uint32_t node_id,
                     const metrics::registry& registry, rest_service* rest) {
    add_health_routes(router, std::move(state), node_id);
    add_metrics_route(router, registry);
    if (rest != nullptr) rest->add_routes(router, &registry);
}

}  // namespace es::server
