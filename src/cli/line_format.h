// The line formats of esctl produce and consume: raw lines with an optional key separator, and
// JSON objects (docs/esctl.md).
#pragma once

#include <string>

#include "eventstream/event.h"
#include "eventstream/status.h"

namespace es::cli {

// "key<sep>value" -> key and value when `separator` is not empty and occurs; else the whole
// line is the value.
eventstream::result<eventstream::event> parse_raw_line(const std::string& line,
                                                       const std::string& separator);
// {"key": string|null, "value": any, "headers": {name: string}, "timestamp": ns}. A value that is
// not a string is published as its JSON text. Error: invalid_argument saying what is wrong.
eventstream::result<eventstream::event> parse_json_line(const std::string& line);

// One record as a JSON line: {"partition", "offset", "timestamp", "key", "headers", "value"}
// (gaps: {"partition", "gap_first", "gap_last"}). Bytes that are not UTF-8 are replaced.
std::string record_json(const eventstream::consumer_record& r);
// The raw form: the value, or key<sep>value when `separator` is set and the event has a key.
std::string record_raw(const eventstream::consumer_record& r, const std::string& separator);

}  // namespace es::cli
