// The on-disk layout of a Raft group's log, snapshot and vote (raft_log_store), shared by the
// code that writes and the code that reads them. Every integer is little-endian.
//
// A group's directory holds:
//
//   raft-vote-1, raft-vote-2  the current term and the vote in it, in two files written in
//                          turn (40 bytes each):
//                            0  u32 magic "ESRV"      4  u32 version (1)
//                            8  u64 sequence: one more at every write; odd ones go to
//                                   raft-vote-1, even ones to raft-vote-2
//                           16  u64 term             24  u64 voted-for node id (0: none)
//                           32  u32 CRC-32C of bytes 0..31      36  u32 zero
//                          overwritten in place and fdatasynced: one sync per update, as
//                          raft_uv's metadata1/metadata2. The valid copy with the higher
//                          sequence is the vote; a torn write leaves the other one whole.
//   raft-log-<I>           a segment: the entries from index I (I in 20 decimal digits, so that
//                          names sort by index). A 16-byte header
//                            0  u32 magic "ESRL"      4  u32 version (1)      8  u64 I
//                          then one record per entry, in index order:
//                            0  u32 CRC-32C of bytes 4..31 and of the data
//                            4  u32 data bytes       8  u64 index     16  u64 term
//                           24  u8  entry type (libraft's RAFT_COMMAND, RAFT_BARRIER, RAFT_CHANGE)
//                           25  7 zero bytes        32  the data
//                          Only the last segment may end in a torn record (a crash during a
//                          write); opening cuts it off. A segment is synced before the next one
//                          is begun.
//   raft-snapshot-<I>      the latest snapshot, I its last index:
//                            0  u32 magic "ESRS"      4  u32 version (1)
//                            8  u64 index            16  u64 term
//                           24  u64 configuration index
//                           32  u32 configuration bytes (C)     36  u32 zero
//                           40  u64 data bytes (D)
//                           48  the configuration:  u32 servers, then per server
//                                                   u64 id, u8 role, u16 address bytes, address
//                           48+C  the data
//                           48+C+D  u32 CRC-32C of every byte before it
//                          written to raft-snapshot-<I>.tmp, synced, renamed; older ones are
//                          removed after.
//   *.tmp                  left by a crash before a rename; removed when the log is opened.
#pragma once

#include <cstddef>
#include <cstdint>

namespace es::replication::raft_log_format {

inline constexpr uint32_t k_vote_magic = 0x56525345;      // "ESRV"
inline constexpr uint32_t k_segment_magic = 0x4C525345;   // "ESRL"
inline constexpr uint32_t k_snapshot_magic = 0x53525345;  // "ESRS"
inline constexpr uint32_t k_version = 1;

inline constexpr size_t k_vote_bytes = 40;
inline constexpr size_t k_segment_header_bytes = 16;
inline constexpr size_t k_record_header_bytes = 32;
inline constexpr size_t k_snapshot_header_bytes = 48;
inline constexpr size_t k_snapshot_trailer_bytes = 4;

// Largest entry the log takes: libraft's own messages cap far below this.
inline constexpr uint32_t k_entry_bytes_max = 1u << 30;
// Largest address in a configuration (a node's host:port).
inline constexpr size_t k_address_bytes_max = 1024;

inline constexpr const char* k_vote_files[2] = {"raft-vote-2", "raft-vote-1"};  // by sequence % 2
inline constexpr const char* k_segment_prefix = "raft-log-";
inline constexpr const char* k_snapshot_prefix = "raft-snapshot-";
inline constexpr const char* k_tmp_suffix = ".tmp";

}  // namespace es::replication::raft_log_format
