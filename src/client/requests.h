// Blocking request helpers shared by admin, producer and consumer: a request whose answer must
// be of one type, and DESCRIBE_TOPIC.
#pragma once

#include <string>

#include "client/connection.h"
#include "protocol/codec.h"

namespace es::client {

// Sends the frame `encode(out, request_id)` builds and waits for the answer. Errors: those of
// the request, the server's ERROR, protocol_error for an answer of another type.
// Not on the I/O thread.
template <class Encode>
result<owned_frame> call_expecting(connection& c, Encode encode, protocol::message_type expected) {
    const uint64_t id = c.next_request_id();
    std::string frame;
    encode(frame, id);
    auto answer = c.call(id, std::move(frame));
    if (!answer) return std::move(answer).err();
    auto s = answer_error(*answer, expected);
    if (!s) return std::move(s).err();
    return answer;
}

// DESCRIBE_TOPIC: the topic's settings and partitions. Errors: not_found, and as above.
result<protocol::topic_detail> describe_topic(connection& c, const std::string& name);

}  // namespace es::client
