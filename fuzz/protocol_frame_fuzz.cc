// Fuzz target: native protocol frames (outside input from every client). The input is a byte
// stream fed to frame_reader whole and then in split chunks (fuzz_util.h), by feed(), by
// receiving into prepare()'s room, and so with frames kept (whose bytes must stay as they were):
// all must give the same frames and end the same way. Every
// frame's body goes to the decoder of its type (and, for the types without one, to every decoder);
// what decodes must encode again and decode again. The input is also tried as one UDP datagram
// (parse_single_frame).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "protocol/codec.h"

namespace {

using namespace es::protocol;

// Small enough that the fuzzer crosses it often.
constexpr uint32_t fuzz_max_frame_bytes = 4096;

struct seen {
    uint16_t type;
    uint64_t request_id;
    std::string body;
    bool operator==(const seen&) const = default;
};

struct outcome {
    std::vector<seen> frames;
    bool failed = false;
    es::errc code = es::errc::ok;
    std::string message;
};

// An error is one of the codec's kinds, with a message.
template <class R>
void check_error(const R& r) {
    if (r) return;
    FUZZ_CHECK(r.err().code == es::errc::invalid_argument || r.err().code == es::errc::too_large);
    FUZZ_CHECK(!r.err().message.empty());
}

// Decodes, and if that works, encodes the message again and decodes the copy.
template <class Decode, class Encode>
void round_trip(std::string_view body, Decode decode, Encode encode_again) {
    auto m = decode(body);
    check_error(m);
    if (!m) return;
    std::string out;
    encode_again(out, *m);
    auto f = parse_single_frame(out, max_frame_bytes_limit);
    FUZZ_CHECK(f.has_value());
    auto again = decode(f->body);
    FUZZ_CHECK(again.has_value());
}

void decode_all(message_type type, std::string_view body) {
    switch (type) {
        case message_type::hello:
            return round_trip(body, decode_hello,
                              [](std::string& o, const hello& m) { encode(o, 1, m); });
        case message_type::hello_ok:
            return round_trip(body, decode_hello_ok,
                              [](std::string& o, const hello_ok& m) { encode(o, 1, m); });
        case message_type::ping:
        case message_type::pong:
            return round_trip(body, decode_ping,
                              [](std::string& o, const ping& m) { encode_ping(o, 1, m); });
        case message_type::create_topic:
            return round_trip(
                body, decode_create_topic,
                [](std::string& o, const create_topic_request& m) { encode(o, 1, m); });
        case message_type::delete_topic:
        case message_type::describe_topic:
            return round_trip(
                body, decode_topic_name,
                [](std::string& o, const topic_name_request& m) { encode_delete_topic(o, 1, m); });
        case message_type::topic_info:
            return round_trip(body, decode_topic_info,
                              [](std::string& o, const topic_detail& m) { encode(o, 1, m); });
        case message_type::topic_list:
            return round_trip(body, decode_topic_list,
                              [](std::string& o, const topic_list& m) { encode(o, 1, m); });
        case message_type::metadata:
            return round_trip(body, decode_metadata_request,
                              [](std::string& o, const metadata_request& m) { encode(o, 1, m); });
        case message_type::metadata_info:
            return round_trip(body, decode_metadata_reply,
                              [](std::string& o, const metadata_reply& m) { encode(o, 1, m); });
        case message_type::publish:
            return round_trip(body, decode_publish, [](std::string& o, const publish_request& m) {
                for (const wire_event& e : m.events) {
                    FUZZ_CHECK(size_t{e.first_header} + e.header_count <= m.headers.size());
                    FUZZ_CHECK(e.has_key || e.key.empty());
                }
                encode(o, 1, m);
            });
        case message_type::publish_ack:
            return round_trip(body, decode_publish_ack,
                              [](std::string& o, const publish_ack& m) { encode(o, 1, m); });
        case message_type::subscribe:
            return round_trip(body, decode_subscribe,
                              [](std::string& o, const subscribe_request& m) { encode(o, 1, m); });
        case message_type::subscribed:
            return round_trip(body, decode_subscribed,
                              [](std::string& o, const subscribed& m) { encode(o, 1, m); });
        case message_type::events:
            return round_trip(body, decode_events,
                              [](std::string& o, const events_push& m) { encode(o, 1, m); });
        case message_type::gap:
            return round_trip(body, decode_gap,
                              [](std::string& o, const gap_push& m) { encode(o, 1, m); });
        case message_type::subscription_ended:
            return round_trip(body, decode_subscription_ended,
                              [](std::string& o, const subscription_ended& m) { encode(o, 1, m); });
        case message_type::credit:
            return round_trip(body, decode_credit,
                              [](std::string& o, const credit_grant& m) { encode(o, 1, m); });
        case message_type::unsubscribe:
            return round_trip(
                body, decode_unsubscribe,
                [](std::string& o, const unsubscribe_request& m) { encode(o, 1, m); });
        case message_type::commit_offset:
            return round_trip(
                body, decode_commit_offset,
                [](std::string& o, const commit_offset_request& m) { encode(o, 1, m); });
        case message_type::fetch_offset:
            return round_trip(
                body, decode_fetch_offset,
                [](std::string& o, const fetch_offset_request& m) { encode(o, 1, m); });
        case message_type::offset:
            return round_trip(body, decode_offset,
                              [](std::string& o, const offset_reply& m) { encode(o, 1, m); });
        case message_type::error:
            return round_trip(body, decode_error,
                              [](std::string& o, const error_reply& m) { encode(o, 1, m); });
        case message_type::ok:
        case message_type::list_topics: {
            auto s = decode_empty(body);
            check_error(s);
            FUZZ_CHECK(s.has_value() == body.empty());
            return;
        }
    }
    FUZZ_CHECK(false);  // frame_reader lets only known types through
}

// How the bytes reach the reader: feed() (a copy), or received into prepare()'s room (as the
// node and the client read their sockets), a room larger than what comes; or received so, with
// frames kept (frame_reader::keep, as the node lends a PUBLISH to the engine) in storage small
// enough that the reader often moves on to fresh storage around them.
enum class arrival { feed, receive, receive_kept };

// A frame kept: its body as the reader handed it out, and a copy to check it against.
struct kept_frame {
    frame_keeper keeper;
    std::string_view body;
    std::string copy;
};

outcome read_stream(const std::vector<std::string_view>& pieces, bool decode,
                    arrival how = arrival::feed) {
    outcome o;
    frame_reader reader(fuzz_max_frame_bytes, 512);
    std::vector<kept_frame> kept;
    size_t fed = 0;
    for (std::string_view piece : pieces) {
        if (how == arrival::feed) {
            reader.feed(piece);
        } else {
            char* room = reader.prepare(piece.size() + 64);
            std::memcpy(room, piece.data(), piece.size());
            reader.commit(piece.size());
        }
        fed += piece.size();
        for (;;) {
            auto f = reader.next();
            if (!f) {
                check_error(f);
                o.failed = true;
                o.code = f.err().code;
                o.message = f.err().message;
                return o;
            }
            if (!*f) break;
            const frame& fr = **f;
            FUZZ_CHECK(fr.header.frame_bytes == frame_header_bytes + fr.body.size());
            FUZZ_CHECK(fr.header.frame_bytes <= fuzz_max_frame_bytes);
            FUZZ_CHECK(fr.header.flags == 0);
            o.frames.push_back({static_cast<uint16_t>(fr.header.type), fr.header.request_id,
                                std::string(fr.body)});
            if (decode) decode_all(fr.header.type, fr.body);
            if (how == arrival::receive_kept && o.frames.size() % 3 != 0) {
                // Kept: two frames of three, the oldest let go past eight.
                kept.push_back({reader.keep(), fr.body, std::string(fr.body)});
                if (kept.size() > 8) kept.erase(kept.begin());
            }
        }
        FUZZ_CHECK(reader.buffered_bytes() <= fed);
        // Whatever the reader did since, a kept frame's bytes are where they were, unchanged.
        for (const kept_frame& k : kept) FUZZ_CHECK(k.body == k.copy);
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const outcome whole = read_stream({input}, true);
    const outcome split = read_stream(es::fuzz::split_chunks(input), false);
    const outcome received = read_stream(es::fuzz::split_chunks(input), false, arrival::receive);
    const outcome kept = read_stream(es::fuzz::split_chunks(input), false, arrival::receive_kept);
    // A stream that fails fails at the same frame for the same reason, however it arrives; the
    // frames before it are the same.
    FUZZ_CHECK(whole.frames == split.frames);
    FUZZ_CHECK(whole.failed == split.failed);
    FUZZ_CHECK(whole.code == split.code);
    FUZZ_CHECK(whole.message == split.message);
    FUZZ_CHECK(received.frames == split.frames);
    FUZZ_CHECK(received.failed == split.failed);
    FUZZ_CHECK(received.code == split.code);
    FUZZ_CHECK(received.message == split.message);
    FUZZ_CHECK(kept.frames == split.frames);
    FUZZ_CHECK(kept.failed == split.failed);
    FUZZ_CHECK(kept.code == split.code);
    FUZZ_CHECK(kept.message == split.message);

    // The whole input as a datagram: exactly one frame or an error.
    auto single = parse_single_frame(input, max_udp_datagram_bytes);
    check_error(single);
    if (single) {
        FUZZ_CHECK(single->header.frame_bytes == size);
        decode_all(single->header.type, single->body);
    }
    return 0;
}
