// Encoding of events into records (layout in record_format.h) and batch allocation.
#include "core/batch.h"

#include <cstring>
#include <string>

#include "core/topic.h"

namespace es::core {
namespace {

size_t headers_region_bytes(const event_in& e) noexcept {
    size_t n = 0;
    for (const auto& h : e.headers)
        n += header_entry_overhead_bytes + h.name.size() + h.value.size();
    return n;
}

}  // namespace

status validate_event(const event_in& e, size_t max_event_bytes) {
    for (const auto& h : e.headers) {
        if (h.name.empty()) return make_error(errc::invalid_argument, "header name is empty");
        if (h.name.size() > max_header_name_bytes) {
            return make_error(errc::too_large, "header name is " + std::to_string(h.name.size()) +
                                                   " bytes; the limit is " +
                                                   std::to_string(max_header_name_bytes));
        }
    }
    const size_t headers = headers_region_bytes(e);
    if (headers > max_headers_bytes) {
        return make_error(errc::too_large, "headers take " + std::to_string(headers) +
                                               " bytes; the limit is " +
                                               std::to_string(max_headers_bytes));
    }
    const size_t size = e.key.size() + e.payload.size() + headers;
    if (size > max_event_bytes) {
        return make_error(errc::too_large, "event is " + std::to_string(size) +
                                               " bytes (key + payload + headers); the topic's "
                                               "max_event_bytes is " +
                                               std::to_string(max_event_bytes));
    }
    return {};
}

size_t encoded_size(const event_in& e) noexcept {
    return record_size(e.key.size(), e.payload.size(), headers_region_bytes(e));
}

size_t encode_record(const event_in& e, std::byte* out) noexcept {
    const size_t headers = headers_region_bytes(e);
    const size_t size = record_size(e.key.size(), e.payload.size(), headers);
    store_le<uint32_t>(out + record_field::record_bytes, static_cast<uint32_t>(size));
    store_le<uint32_t>(out + record_field::key_bytes, static_cast<uint32_t>(e.key.size()));
    store_le<uint32_t>(out + record_field::payload_bytes, static_cast<uint32_t>(e.payload.size()));
    store_le<uint16_t>(out + record_field::headers_bytes, static_cast<uint16_t>(headers));
    store_le<uint16_t>(out + record_field::flags,
                       static_cast<uint16_t>(e.has_key ? record_has_key : 0));
    store_le<int64_t>(out + record_field::timestamp_ns, e.timestamp_ns);
    store_le<uint64_t>(out + record_field::offset, 0);
    // Zero the padding so that records compare and checksum byte for byte: it is within the
    // record's last 8 bytes (a record ends 8-aligned), zeroed here in one store before the
    // body is written over what of them is not padding.
    static_assert(record_alignment == 8 && record_header_bytes >= 8);
    store_le<uint64_t>(out + size - 8, 0);
    std::byte* p = out + record_header_bytes;
    if (!e.key.empty()) std::memcpy(p, e.key.data(), e.key.size());
    p += e.key.size();
    if (!e.payload.empty()) std::memcpy(p, e.payload.data(), e.payload.size());
    p += e.payload.size();
    for (const auto& h : e.headers) {
        store_le<uint16_t>(p, static_cast<uint16_t>(h.name.size()));
        store_le<uint32_t>(p + 2, static_cast<uint32_t>(h.value.size()));
        p += header_entry_overhead_bytes;
        std::memcpy(p, h.name.data(), h.name.size());
        p += h.name.size();
        if (!h.value.empty()) std::memcpy(p, h.value.data(), h.value.size());
        p += h.value.size();
    }
    return size;
}

std::unique_ptr<event_batch> event_batch::create(size_t capacity_bytes) {
    return std::unique_ptr<event_batch>(new (extra_bytes{capacity_bytes})
                                            event_batch(capacity_bytes));
}

bool event_batch::append(const event_in& e) noexcept {
    const size_t size = encoded_size(e);
    if (bytes_ + size > capacity_) return false;
    encode_record(e, data() + bytes_);
    bytes_ += size;
    ++count_;
    return true;
}

record_run drop_records(const record_run& run, uint32_t n) noexcept {
    const std::byte* p = run.data;
    for (uint32_t i = 0; i < n; ++i) p += load_le<uint32_t>(p + record_field::record_bytes);
    const auto skipped = static_cast<size_t>(p - run.data);
    return record_run{p, run.bytes - skipped, run.count - n};
}

}  // namespace es::core
