// docs/openapi.yaml and the routes the node serves agree: the route table the node builds
// (add_node_routes) holds exactly the documented methods and paths, and the real binary answers
// every documented route (not "no route" 404, not 405).
#include <yaml-cpp/yaml.h>

#include <boost/asio/io_context.hpp>

#include <set>
#include <string>

#include "core/engine.h"
#include "metrics/registry.h"
#include "server/admin_pool.h"
#include "server/node_routes.h"
#include "server/rest_service.h"
#include "tests/integration/rest_test_util.h"

namespace es::test {
namespace {

using route_set = std::set<std::pair<std::string, std::string>>;  // method, path

route_set documented_routes() {
    route_set out;
    const YAML::Node doc = YAML::LoadFile(std::string(ES_SOURCE_DIR) + "/docs/openapi.yaml");
    for (const auto& path : doc["paths"]) {
        for (const auto& op : path.second) {
            std::string method = op.first.as<std::string>();
            if (method == "parameters" || method == "summary" || method == "description") {
                continue;
            }
            for (auto& ch : method) ch = static_cast<char>(std::toupper(ch));
            out.emplace(method, path.first.as<std::string>());
        }
    }
    return out;
}

route_set served_routes() {
    boost::asio::io_context io;
    metrics::registry registry;
    core::engine_options options;
    options.workers = 1;
    options.pin_workers = false;
    core::engine engine(options);
    server::admin_pool admin;
    auto rest = server::rest_service::create(io, engine, admin, &registry, {});
    server::http_router router;
    server::add_node_routes(
        router, [] { return server::node_state::running; }, 1, registry, rest.get());
    route_set out;
    for (const auto& r : router.routes()) out.emplace(r.method, r.pattern);
    rest->close();
    return out;
}

TEST(openapi_routes_test, every_route_served_is_documented_and_every_documented_one_served) {
    const auto documented = documented_routes();
    const auto served = served_routes();
    ASSERT_FALSE(documented.empty());
    for (const auto& [method, path] : served) {
        EXPECT_TRUE(documented.count({method, path}))
            << method << " " << path << " is served but not in docs/openapi.yaml";
    }
    for (const auto& [method, path] : documented) {
        EXPECT_TRUE(served.count({method, path}))
            << method << " " << path << " is in docs/openapi.yaml but not served";
    }
}

class openapi_binary_test : public rest_fixture {};

TEST_F(openapi_binary_test, the_binary_answers_every_documented_route) {
    create_topic("doc");
    for (const auto& [method, path] : documented_routes()) {
        std::string target = path;
        for (const auto& [param, value] :
             {std::pair<std::string, std::string>{"{name}", "doc"}, {"{id}", "doc.0.0"}}) {
            if (const auto at = target.find(param); at != std::string::npos) {
                target.replace(at, param.size(), value);
            }
        }
        const auto r = call(method, target, method == "POST" ? "{}" : "");
        EXPECT_NE(r.status, 405) << method << " " << target << ": " << r.body;
        if (r.status == 404) {
            EXPECT_EQ(r.body.find("no route"), std::string::npos)
                << method << " " << target << ": " << r.body;
        }
    }
    expect_up();
}

}  // namespace
}  // namespace es::test
