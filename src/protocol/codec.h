// Encoding and decoding of native protocol frames. Decoding is of outside input: every length
// is checked against the bytes there and the limits of frame_format.h, and a bad frame is an
// error value (invalid_argument or too_large, with a message saying what is wrong), never a
// crash. Free of I/O, so that a fuzzer can drive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/frame_format.h"
#include "protocol/messages.h"

namespace es::protocol {

// One frame: its header and a view of its body.
struct frame {
    frame_header header;
    std::string_view body;
};

// Keeps the bytes of frames a frame_reader handed out valid and unchanged while it lives.
using frame_keeper = std::shared_ptr<const void>;

// Reads frames from a byte stream that arrives in pieces of any size. Bytes come in by feed()
// (a copy) or are received straight into the reader: prepare(n) gives room for up to n bytes,
// the caller writes (reads a socket) into it, then commit(k) takes the k bytes that came.
//
// A frame's body is valid until the reader next moves its bytes, unless the caller keeps it:
// keep() returns a keeper for every frame handed out so far, and the reader then leaves those
// bytes where they are, receiving on after them or into fresh storage once they fill it. A
// keeper may be dropped on any thread; the storage it held is then reused or freed.
class frame_reader {
  public:
    // Storage taken for received bytes while frames handed out are kept: several frames'
    // worth, so that moving the start of a frame to fresh storage is rare.
    static constexpr size_t default_kept_storage_bytes = 4u << 20;

    explicit frame_reader(uint32_t max_frame_bytes = default_max_frame_bytes,
                          size_t kept_storage_bytes = default_kept_storage_bytes);

    // Appends bytes received.
    void feed(std::string_view bytes);
    // Room for `n` more bytes at the end of what is held, valid until the next call of
    // prepare() or feed(); commit() then appends the first `k` of them. Moves or reallocates
    // what is held, so frames handed out before are invalid. Nothing else moves it: next()
    // does not, so a receive into the room may be outstanding while frames are taken.
    char* prepare(size_t n);
    void commit(size_t k);
    // The next whole frame, or nullopt when more bytes are needed. The frame's body is valid
    // until the next call of feed() or prepare(). Errors (the stream is then unusable): a
    // header whose frame_bytes is below 16 or above the maximum (too_large), flags that are
    // not 0, an unknown type (invalid_argument).
    result<std::optional<frame>> next();
    // Bytes held that do not yet make a whole frame.
    size_t buffered_bytes() const noexcept;
    // Keeps the bodies of the frames handed out so far valid and unchanged while the keeper
    // lives, whatever the reader does meanwhile (on this thread; the keeper may be dropped on
    // any).
    frame_keeper keep();
    // The storage frames are read into now, and its size: what a keep() holds (at least).
    const void* storage() const noexcept { return buffer_.get(); }
    size_t storage_bytes() const noexcept { return capacity_; }
    // Frees the storage kept for reuse once its keepers are gone (the reader keeps one, of at
    // least kept_storage_bytes, so that a steady stream of kept frames does not allocate):
    // for a stream gone quiet.
    void release_spare() noexcept;

  private:
    // Room for `n` bytes while what was handed out is kept: after it, or in fresh storage with
    // only the bytes not yet handed out moved there.
    void prepare_around_kept(size_t n);

    uint32_t max_frame_bytes_;
    size_t kept_storage_bytes_;
    std::shared_ptr<char[]> buffer_;  // [0, size_) held, of capacity_; shared with keepers
    size_t capacity_ = 0;
    size_t size_ = 0;
    size_t consumed_ = 0;  // bytes of buffer_ already handed out as frames
    size_t prepared_ = 0;  // room handed out by the last prepare()
    bool kept_ = false;    // buffer_'s bytes up to consumed_ may be kept
    // Storage last given up while kept, reused once its keepers are gone.
    std::shared_ptr<char[]> spare_;
    size_t spare_capacity_ = 0;
};

// Checks the 16 bytes at the front of `bytes` as a frame header (errors as for frame_reader).
// REQUIRES: bytes.size() >= frame_header_bytes.
result<frame_header> decode_frame_header(std::string_view bytes, uint32_t max_frame_bytes);

// True when `type` is one of message_type's values.
bool is_known_type(uint16_t type) noexcept;
// True for the types a client sends (the high bit clear).
bool is_request(message_type t) noexcept;

// Parses a whole frame at the front of `bytes` (a UDP datagram). Error as for frame_reader,
// and invalid_argument when `bytes` holds more or less than one frame.
result<frame> parse_single_frame(std::string_view bytes, uint32_t max_frame_bytes);

// Encoders: each appends one whole frame (header and body) to `out`.
void encode(std::string& out, uint64_t request_id, const hello& m);
void encode(std::string& out, uint64_t request_id, const hello_ok& m);
void encode_ping(std::string& out, uint64_t request_id, const ping& m);
void encode_pong(std::string& out, uint64_t request_id, const ping& m);
void encode(std::string& out, uint64_t request_id, const create_topic_request& m);
void encode_delete_topic(std::string& out, uint64_t request_id, const topic_name_request& m);
void encode_describe_topic(std::string& out, uint64_t request_id, const topic_name_request& m);
void encode_list_topics(std::string& out, uint64_t request_id);
void encode(std::string& out, uint64_t request_id, const topic_detail& m);  // TOPIC_INFO
void encode(std::string& out, uint64_t request_id, const topic_list& m);
void encode(std::string& out, uint64_t request_id, const metadata_request& m);
void encode(std::string& out, uint64_t request_id, const metadata_reply& m);
void encode(std::string& out, uint64_t request_id, const publish_request& m);
// PUBLISH written in two steps, for a producer that encodes each event as it is sent: the
// events' records, appended one by one (append_publish_record, then that record's headers with
// append_publish_header), then the frame around them (encode_publish). The bytes are the ones
// encode(publish_request) writes. `key` nullopt: no key. REQUIRES: header_count <= 65535 and that
// many append_publish_header calls follow the record.
void append_publish_record(std::string& records, std::optional<std::string_view> key,
                           std::string_view payload, int64_t timestamp_ns, size_t header_count);
void append_publish_header(std::string& records, std::string_view name, std::string_view value);
void encode_publish(std::string& out, uint64_t request_id, const publish_head& head,
                    uint32_t event_count, std::string_view records);
// The frame header and head of that PUBLISH only, for a caller that sends the records after
// them from where they are.
void encode_publish_head(std::string& out, uint64_t request_id, const publish_head& head,
                         uint32_t event_count, size_t records_bytes);
void encode(std::string& out, uint64_t request_id, const publish_ack& m);
void encode(std::string& out, uint64_t request_id, const subscribe_request& m);
void encode(std::string& out, uint64_t request_id, const subscribed& m);
void encode(std::string& out, uint64_t request_id, const events_push& m);
void encode(std::string& out, uint64_t request_id, const gap_push& m);
void encode(std::string& out, uint64_t request_id, const subscription_ended& m);
void encode(std::string& out, uint64_t request_id, const credit_grant& m);
void encode(std::string& out, uint64_t request_id, const unsubscribe_request& m);
void encode(std::string& out, uint64_t request_id, const commit_offset_request& m);
void encode(std::string& out, uint64_t request_id, const fetch_offset_request& m);
void encode(std::string& out, uint64_t request_id, const offset_reply& m);
void encode(std::string& out, uint64_t request_id, const error_reply& m);
void encode_ok(std::string& out, uint64_t request_id);

// EVENTS without a copy of the records: appends the frame header and the fixed fields, so the
// caller can append `records_bytes` of records itself right after.
void encode_events_head(std::string& out, uint64_t request_id, uint64_t subscription_id,
                        uint32_t partition, uint32_t count, uint32_t records_bytes);

// Decoders of a frame body of the matching type. Errors: invalid_argument naming the field
// ("events[3].key: runs past the end of the frame"), too_large for a limit crossed. Views in the
// result point into `body`.
result<hello> decode_hello(std::string_view body);
result<hello_ok> decode_hello_ok(std::string_view body);
result<ping> decode_ping(std::string_view body);  // PING and PONG
result<create_topic_request> decode_create_topic(std::string_view body);
result<topic_name_request> decode_topic_name(std::string_view body);  // DELETE/DESCRIBE
result<topic_detail> decode_topic_info(std::string_view body);
result<topic_list> decode_topic_list(std::string_view body);
result<metadata_request> decode_metadata_request(std::string_view body);
result<metadata_reply> decode_metadata_reply(std::string_view body);
result<publish_request> decode_publish(std::string_view body);
result<publish_ack> decode_publish_ack(std::string_view body);
result<subscribe_request> decode_subscribe(std::string_view body);
result<subscribed> decode_subscribed(std::string_view body);
result<events_push> decode_events(std::string_view body);  // records checked whole (sizes)
result<gap_push> decode_gap(std::string_view body);
result<subscription_ended> decode_subscription_ended(std::string_view body);
result<credit_grant> decode_credit(std::string_view body);
result<unsubscribe_request> decode_unsubscribe(std::string_view body);
result<commit_offset_request> decode_commit_offset(std::string_view body);
result<fetch_offset_request> decode_fetch_offset(std::string_view body);
result<offset_reply> decode_offset(std::string_view body);
result<error_reply> decode_error(std::string_view body);
// LIST_TOPICS and OK: the body must be empty.
status decode_empty(std::string_view body);

const char* message_type_name(message_type t) noexcept;

}  // namespace es::protocol
