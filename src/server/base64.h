// Base64 (RFC 4648, standard alphabet, with padding) for event payloads carried in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace es::server {

std::string base64_encode(std::string_view bytes);

// The decoded bytes; nullopt when `text` is not canonical padded base64 (wrong length, a
// character outside the alphabet, padding in the middle, non-zero bits after the last byte).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace es::server
