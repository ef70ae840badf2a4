// Placing threads on cores: pinning and NUMA-local memory for the workers.
#pragma once

#include <cstdint>
#include <vector>

namespace es::core {

// The CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// Pins the calling thread to `cpu` and, where the machine has more than one NUMA node, makes the
// thread allocate from that CPU's node. Returns false (and leaves the thread as it was) when the
// OS refuses.
bool pin_current_thread(int cpu);

// NUMA nodes on this machine (1 when libnuma reports none).
int numa_node_count();

}  // namespace es::core
