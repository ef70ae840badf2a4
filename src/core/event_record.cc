// Copying an event out of its record.
#include "core/event_record.h"

namespace es::core {

event_record event_record::of(uint32_t partition, const event_view& v) {
    event_record r;
    r.partition = partition;
    r.offset = v.offset;
    r.timestamp_ns = v.timestamp_ns;
    if (v.has_key) r.key.emplace(v.key);
    r.payload.assign(v.payload);
    for (const header_in h : v.headers) r.headers.emplace_back(h.name, h.value);
    return r;
}

}  // namespace es::core
