// The node's own HTTP endpoints: health checks for load balancers and orchestrators, and
// /metrics for Prometheus.
#pragma once

#include <cstdint>
#include <functional>

#include "server/http_router.h"
#include "server/node.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

// GET /health/live   200 {"status":"live"} while the process serves HTTP at all.
// GET /health/ready  200 {"status":"ready"} while running, else 503 {"status":"starting"} or
//                    {"status":"stopping"}: HAProxy and Kubernetes take traffic away.
// GET /health        Consul-style: 200 {"status":"passing","node_id":N} while running, else
//                    503 {"status":"critical","node_id":N}.
// `state` is called on io threads and must be thread-safe.
void add_health_routes(http_router& router, std::function<node_state()> state, uint32_t node_id);

// GET /metrics: Prometheus text exposition of `registry`, which must outlive the router.
void add_metrics_route(http_router& router, const metrics::registry& registry);

class rest_service;

// Every route the node serves: health, /metrics and, when `rest` is not null, the REST API
// (rest_service::add_routes). The node builds its table with this, and so does the check that
// docs/openapi.yaml lists exactly the routes served.
void add_node_routes(http_router& router, std::function<node_state()> state, uint32_t node_id,
                     const metrics::registry& registry, rest_service* rest);

}  // namespace es::server
