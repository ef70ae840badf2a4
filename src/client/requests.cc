// Blocking request helpers (requests.h).
#include "client/requests.h"

namespace es::client {

result<protocol::topic_detail> describe_topic(connection& c, const std::string& name) {
    auto a = call_expecting(
        c,
        [&](std::string& out, uint64_t id) {
            protocol::encode_describe_topic(out, id, protocol::topic_name_request{name});
        },
        protocol::message_type::topic_info);
    if (!a) return std::move(a).err();
    auto d = protocol::decode_topic_info(a->body);
    if (!d) return error{error_code::protocol_error, "bad TOPIC_INFO: " + d.err().message};
    return std::move(*d);
}

}  // namespace es::client
