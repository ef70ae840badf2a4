// The error codes shared by every subsystem, registered with std::error_code. Edges translate
// them: to HTTP statuses, gRPC status codes and protocol error frames.
#pragma once

#include <system_error>

namespace es {

enum class errc {
    ok = 0,
    invalid_argument = 1,  // the request is malformed or breaks a rule; do not retry
    not_found = 2,         // the named topic, partition, subscription or event does not exist
    already_exists = 3,    // create of something that exists
    queue_full = 4,        // a bounded queue is full; retry after a short back-off
    too_large = 5,         // a size limit was crossed (event, batch, frame)
    shutting_down = 6,     // the node is stopping; retry against another node or later
    not_supported = 7,     // the feature is not built or not enabled on this node
    io_error = 8,          // the operating system refused a file or socket operation
    timed_out = 9,         // a deadline passed before the operation finished
    config_error = 10,     // configuration is invalid; the message names the field
    not_leader = 11,       // this node does not lead the partition (or controller); the message
                           // names the leader when it is known: "... leader is node 2 at
                           // 127.0.0.1:7171". Retry against the leader.
    unavailable = 12,      // no leader right now (an election is running), or too few replicas
                           // are up; retry after a short back-off
};

const std::error_category& eventstream_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), eventstream_category()};
}

// True for errors that a client may retry as they are (back-pressure, shutdown, time-out).
bool is_retryable(errc e) noexcept;

// The short stable name of a code ("queue_full"), used in logs and JSON error bodies.
const char* errc_name(errc e) noexcept;

}  // namespace es

template <>
struct std::is_error_code_enum<es::errc> : std::true_type {};
