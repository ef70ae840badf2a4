// How the client picks partitions and shares them in a group: the server's key hash, and the
// static assignment of a group's partitions to its members.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/hash.h"

namespace es::client {

// The partition of a keyed event: stable_hash(key) mod partitions, exactly as the server routes
// (core/dispatcher.cc). REQUIRES: partitions > 0.
inline uint32_t partition_for_key(std::string_view key, uint32_t partitions) noexcept {
    return static_cast<uint32_t>(stable_hash(key) % partitions);
}

// Static group assignment: member `index` of `count` takes the partitions p with
// p % count == index, in increasing order. REQUIRES: index < count.
std::vector<uint32_t> static_assignment(uint32_t partitions, uint32_t index, uint32_t count);

}  // namespace es::client
