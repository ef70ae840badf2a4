// Thread pinning with sched_setaffinity, NUMA placement with libnuma.
#include "core/cpu_affinity.h"

#include <numa.h>
#include <pthread.h>
#include <sched.h>

namespace es::core {

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
        }
    }
    return cpus;
}

int numa_node_count() {
    if (numa_available() < 0) return 1;
    return numa_num_configured_nodes();
}

bool pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) return false;
    if (numa_node_count() > 1) {
        const int node = numa_node_of_cpu(cpu);
        if (node >= 0) numa_set_preferred(node);
    }
    return true;
}

}  // namespace es::core
