// The preamble that opens every connection between nodes on the cluster port, before raft_uv's
// own messages: it names the group the connection is for (or says that it carries node-to-node
// requests) and who is calling. Shared by the connecting sides (raft_transport.cc,
// rpc_client.cc) and the accepting side (the cluster listener).
//
// Layout, integers little endian:
//   [8]  magic "ESRAFT02"
//   [8]  cluster id: a hash of the cluster's member list (cluster_id_of); a node refuses a
//        connection whose id is not its own, so nodes started with different --peers lists
//        (or a node of another cluster on a reused address) never exchange Raft messages
//   [8]  group id; k_rpc_group_id (UINT64_MAX, never a Raft group) marks a connection that
//        carries node-to-node requests (raft_host::call) instead of one group's messages
//   [8]  raft id of the connecting member (raft_uv needs it to attribute every message)
//   [2]  length N of the connecting member's address, 1..k_preamble_address_bytes_max
//   [N]  that address, "host:port" (libraft reports it as the leader's address)
// The accepting side answers with one byte, k_preamble_ack, once the group's transport (or the
// request server) has the connection. After that, on a group's connection only the connecting
// side writes (raft_uv connections are one-way); on a request connection the connecting side
// writes requests and the accepting side replies (frames in rpc_frame.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace es::replication {

inline constexpr char k_preamble_magic[8] = {'E', 'S', 'R', 'A', 'F', 'T', '0', '2'};
inline constexpr size_t k_preamble_fixed_bytes = 8 + 8 + 8 + 8 + 2;
inline constexpr size_t k_preamble_address_bytes_max = 255;
inline constexpr std::byte k_preamble_ack{0x01};
// The group id of a connection for node-to-node requests; open_group refuses it.
inline constexpr uint64_t k_rpc_group_id = UINT64_MAX;

struct preamble {
    uint64_t cluster_id = 0;
    uint64_t group_id = 0;
    uint64_t node_id = 0;
    std::string address;
};

// The cluster id of a member list: FNV-1a over "id@address;" of each member, in id order. Every
// node must be given the same list, so every node computes the same id.
uint64_t cluster_id_of(std::vector<std::pair<uint64_t, std::string>> members);

// REQUIRES: 1 <= p.address.size() <= k_preamble_address_bytes_max.
std::vector<std::byte> encode_preamble(const preamble& p);

// Reads a preamble in as many pieces as the socket delivers, never asking for a byte past its
// end (so that nothing that follows is consumed).
class preamble_reader {
  public:
    enum class state { need_more, complete, malformed };

    // Where the next bytes go: exactly as many as the preamble still lacks (empty once it is
    // complete or malformed).
    std::span<std::byte> next_buffer() noexcept;
    // Records that `n` bytes were written at the start of next_buffer().
    // REQUIRES: n <= next_buffer().size().
    state advance(size_t n);
    state current() const noexcept { return state_; }
    // REQUIRES: current() == complete.
    const preamble& value() const noexcept { return value_; }
    // Why the preamble was refused (current() == malformed).
    const std::string& error() const noexcept { return error_; }

  private:
    std::array<std::byte, k_preamble_fixed_bytes + k_preamble_address_bytes_max> buffer_{};
    size_t have_ = 0;
    size_t want_ = k_preamble_fixed_bytes;
    state state_ = state::need_more;
    preamble value_;
    std::string error_;
};

}  // namespace es::replication
