// errc to ERROR frame.
#include "server/native_errors.h"

#include "protocol/codec.h"
#include "server/native_options.h"

namespace es::server {

protocol::error_reply error_reply_of(const error& e) {
    protocol::error_reply r;
    r.code = static_cast<uint16_t>(e.code);
    r.retryable = is_retryable(e.code);
    r.message = e.message.substr(0, k_native_error_message_bytes_max);
    return r;
}

void encode_error(std::string& out, uint64_t request_id, const error& e) {
    protocol::encode(out, request_id, error_reply_of(e));
}

}  // namespace es::server
