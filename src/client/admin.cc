// Topic management (include/eventstream/admin.h): one blocking request per call.
#include "eventstream/admin.h"

#include "client/connection.h"
#include "client/requests.h"
#include "client/wire.h"
#include "protocol/codec.h"

namespace eventstream {

namespace protocol = es::protocol;

struct admin::impl {
    std::unique_ptr<es::client::connection> conn;
};

namespace {
error bad_answer(const char* what, const es::error& e) {
    return error{error_code::protocol_error, std::string("bad ") + what + ": " + e.message};
}
}  // namespace

admin::admin(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
admin::~admin() = default;

result<std::unique_ptr<admin>> admin::connect(const connection_options& options) {
    auto conn = es::client::connection::open(options);
    if (!conn) return std::move(conn).err();
    auto i = std::make_unique<impl>();
    i->conn = std::move(*conn);
    return std::unique_ptr<admin>(new admin(std::move(i)));
}

result<topic_info> admin::create_topic(const topic_config& config) {
    auto a = es::client::call_expecting(
        *impl_->conn,
        [&](std::string& out, uint64_t id) {
            protocol::encode(out, id, protocol::create_topic_request{es::client::to_wire(config)});
        },
        protocol::message_type::topic_info);
    if (!a) return std::move(a).err();
    auto d = protocol::decode_topic_info(a->body);
    if (!d) return bad_answer("TOPIC_INFO", d.err());
    return es::client::from_wire(*d);
}

status admin::delete_topic(const std::string& name) {
    auto a = es::client::call_expecting(
        *impl_->conn,
        [&](std::string& out, uint64_t id) {
            protocol::encode_delete_topic(out, id, protocol::topic_name_request{name});
        },
        protocol::message_type::ok);
    if (!a) return std::move(a).err();
    return {};
}

result<std::vector<topic_info>> admin::list_topics() {
    auto a = es::client::call_expecting(
        *impl_->conn, [&](std::string& out, uint64_t id) { protocol::encode_list_topics(out, id); },
        protocol::message_type::topic_list);
    if (!a) return std::move(a).err();
    auto l = protocol::decode_topic_list(a->body);
    if (!l) return bad_answer("TOPIC_LIST", l.err());
    std::vector<topic_info> out;
    for (const auto& t : l->topics) out.push_back(es::client::from_wire(t));
    return out;
}

result<topic_info> admin::describe_topic(const std::string& name) {
    auto d = es::client::describe_topic(*impl_->conn, name);
    if (!d) return std::move(d).err();
    return es::client::from_wire(*d);
}

result<cluster_metadata> admin::metadata(const std::vector<std::string>& topics) {
    auto a = es::client::call_expecting(
        *impl_->conn,
        [&](std::string& out, uint64_t id) {
            protocol::encode(out, id, protocol::metadata_request{topics});
        },
        protocol::message_type::metadata_info);
    if (!a) return std::move(a).err();
    auto m = protocol::decode_metadata_reply(a->body);
    if (!m) return bad_answer("METADATA_INFO", m.err());
    cluster_metadata out;
    for (const auto& n : m->nodes) out.nodes.push_back(node_info{n.node_id, n.host, n.native_port});
    for (const auto& t : m->topics)
        out.topics.push_back(cluster_metadata::topic_leaders{t.name, t.leader_by_partition});
    return out;
}

}  // namespace eventstream
