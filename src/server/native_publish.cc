// Gathering a native PUBLISH's batch completions into its answer.
#include "server/native_publish.h"

#include <string>
#include <utility>

#include "core/record_format.h"
#include "protocol/codec.h"
#include "server/native_convert.h"
#include "server/native_errors.h"
#include "server/publish_call.h"

namespace es::server {

// The protocol carries records as core stores them; it repeats their sizes and limits without
// depending on core (protocol/frame_format.h), and clients check events against them.
static_assert(protocol::wire_record_header_bytes == core::record_header_bytes);
static_assert(protocol::wire_record_alignment == core::record_alignment);
static_assert(protocol::wire_record_headers_bytes_max == core::max_headers_bytes);
static_assert(protocol::max_name_bytes == core::max_header_name_bytes);

std::optional<error> publish_with_ack(core::engine& engine, const core::topic_ptr& t,
                                      std::span<const core::event_in> events,
                                      const core::publish_options& options, uint64_t request_id,
                                      uint64_t capabilities, native_answer answer) {
    const size_t event_count = events.size();
    const bool offset_unknown = (capabilities & protocol::capability_duplicate_offset_unknown) != 0;
    publish_done done = [request_id, event_count, offset_unknown,
                         answer = std::move(answer)](result<publish_report> r) {
        std::string frame;
        if (!r) {
            encode_error(frame, request_id, r.err());
            answer(std::move(frame), false);
            return;
        }
        for (const core::publish_outcome& o : r->outcomes) {
            if (o.code != errc::ok) {
                encode_error(frame, request_id,
                             make_error(o.code, "the batch of " + std::to_string(o.count) +
                                                    " event(s) for partition " +
                                                    std::to_string(o.partition) +
                                                    " was refused: " + errc_name(o.code)));
                answer(std::move(frame), false);
                return;
            }
        }
        if (r->summary.events_refused > 0) {
            encode_error(
                frame, request_id,
                make_error(errc::queue_full, std::to_string(r->summary.events_refused) + " of " +
                                                 std::to_string(event_count) +
                                                 " events were refused (queue full); the others "
                                                 "were appended"));
            answer(std::move(frame), false);
            return;
        }
        protocol::encode(frame, request_id, publish_ack_of(std::move(r->outcomes), offset_unknown));
        answer(std::move(frame), true);
    };
    return try_publish_async(engine, t, events, acks_mode::all, done, options);
}

}  // namespace es::server
