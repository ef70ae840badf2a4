// Static group assignment (routing.h).
#include "client/routing.h"

#include "common/assert.h"

namespace es::client {

std::vector<uint32_t> static_assignment(uint32_t partitions, uint32_t index, uint32_t count) {
    ES_ASSERT(index < count);
    std::vector<uint32_t> mine;
    for (uint32_t p = index; p < partitions; p += count) mine.push_back(p);
    return mine;
}

}  // namespace es::client
