// Translation between the public client types (include/eventstream/) and the protocol's
// messages: error codes, topic settings, and the records of an EVENTS frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstream/admin.h"
#include "eventstream/event.h"
#include "eventstream/options.h"
#include "eventstream/status.h"
#include "protocol/messages.h"

namespace es::client {

// An ERROR frame's code (es::errc's stable numbers) as a client error; unknown codes become
// protocol_error with the number in the message.
eventstream::error error_from_wire(uint16_t code, std::string message);

protocol::topic_settings to_wire(const eventstream::topic_config& c);
eventstream::topic_info from_wire(const protocol::topic_detail& d);
protocol::acks_level to_wire(eventstream::acks a);
protocol::start_kind to_wire(eventstream::start_position::kind k);

// The records of an EVENTS frame have the layout of core/record_format.h: a 32-byte header per
// record, then key, payload, headers region, padding to 8 bytes.
//
// Checks `count` records without decoding them: each record's parts fit it, its header entries
// fit its headers region, and the records fill `records` exactly. Returns the last record's
// offset (nullopt when count is 0). Error: protocol_error, naming the record.
eventstream::result<std::optional<uint64_t>> check_records(std::string_view records, uint32_t count,
                                                           uint32_t partition);
// Decodes the record at `at` into `r` (every field of an event) and returns its size, which is
// where the next record starts. REQUIRES: `records` passed check_records and `at` is a record's
// start.
size_t decode_record(std::string_view records, size_t at, const std::string& topic,
                     uint32_t partition, eventstream::consumer_record& r);

// The bytes an event takes in a batch on the wire (record header, parts and padding), the
// measure of batch_bytes_max and buffer_bytes_max.
size_t event_wire_bytes(const eventstream::event& e) noexcept;
size_t event_wire_bytes(const eventstream::event_view& e) noexcept;

// The node's limits on one event's headers (docs/protocol.md): names of at most 255 bytes, and
// at most 65 535 bytes of headers region (6 bytes of lengths per header, then name and value).
// Error: invalid_argument, naming the header.
eventstream::status check_headers(const eventstream::event_view& e);

}  // namespace es::client
