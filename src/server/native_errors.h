// The one translation of es::errc to the native protocol's ERROR frame (docs/protocol.md
// "Errors": the code is the errc value, with its retryable flag).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "protocol/messages.h"

namespace es::server {

// The ERROR body for `e`; a long message is cut to k_native_error_message_bytes_max.
protocol::error_reply error_reply_of(const error& e);

// Appends an ERROR frame for `e` answering `request_id`.
void encode_error(std::string& out, uint64_t request_id, const error& e);

}  // namespace es::server
