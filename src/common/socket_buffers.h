// The send buffer of the native protocol's TCP connections, on the node and in the client.
//
// Left to itself, Linux grows a TCP socket's send buffer up to net.ipv4.tcp_wmem's maximum
// (4 MiB here). A writer that outruns its reader then has megabytes queued in the kernel, and on
// loopback the receiving side's work runs in the writer's system call, over bytes long gone
// from the cache. A fixed buffer of a few hundred KiB keeps them warm (Kafka's producer and
// broker set 128 KiB and 100 KiB by default). On links with a large bandwidth-delay product a
// fixed buffer caps one connection's rate at about twice its size per round trip; 0 leaves the
// kernel's autotuning on.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace es {

// The default for both ends: 256 KiB asked, which Linux doubles.
inline constexpr uint32_t k_default_socket_send_buffer_bytes = 256 * 1024;

// Sets SO_SNDBUF of the socket `fd` to `bytes`, which turns the kernel's autotuning of it off.
// Linux doubles the value for its own bookkeeping and caps it at net.core.wmem_max. 0 leaves
// the socket as it is.
status set_send_buffer_bytes(int fd, uint32_t bytes);

}  // namespace es
