// A direct decoder for the common publish body, one event object with plain text
// ({"topic":"t","payload":...,"key":"k"}), that reads the text once and builds no JSON document.
// decode_publish_body tries it first and falls back to the full decoder for anything else.
#pragma once

#include <optional>
#include <string_view>

#include "server/event_json.h"

namespace es::server {

// The decoded body when `body` is one event object whose fields are among topic, payload, key
// and encoding, each at most once; whose strings are printable ASCII without escapes; whose
// numbers are integers; and whose payload, when an object, has its keys in ascending order and
// nests no deeper than the limit. For every such body the result equals decode_publish_body's
// (the payload is the value's compact JSON text). nullopt for any other body, valid or not: the
// caller then runs the full decoder, which also gives the errors.
std::optional<decoded_publish> decode_publish_direct(std::string_view body);

}  // namespace es::server
