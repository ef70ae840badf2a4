// Blocking-with-deadline socket steps shared by both ends of node-to-node requests
// (rpc_client.cc, rpc_server.cc): sockets stay non-blocking and every wait is a poll(2) bounded
// by a deadline. Writes use MSG_NOSIGNAL, so a peer that went away gives EPIPE, never SIGPIPE.
// Internal to src/replication.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <span>

#include "common/result.h"

namespace es::replication {

using rpc_clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` (POLLIN/POLLOUT). Errors: timed_out once `deadline`
// passed (a deadline already past means "only if ready now"); unavailable when poll fails or
// `cancel_fd` (an eventfd, -1 for none) turned readable. A hang-up or error on the socket
// counts as ready: the next read or write reports it.
status wait_fd(int fd, short events, rpc_clock::time_point deadline, int cancel_fd = -1);

// Writes every byte of `parts` in order. Errors: timed_out, unavailable (the connection broke,
// or `cancel_fd` fired; the message says why). After an error some bytes may have gone out: the
// stream is unusable.
status send_all(int fd, std::span<iovec> parts, rpc_clock::time_point deadline, int cancel_fd = -1);

// Makes `fd` non-blocking with TCP_NODELAY. False when fcntl fails.
bool prepare_socket(int fd);

}  // namespace es::replication
