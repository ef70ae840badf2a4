// The event model: what a producer hands in (event_in) and what a subscriber reads (event_view).
// Both are views; the bytes live in the caller's memory or in a partition's segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/record_format.h"

namespace es::core {

struct header_in {
    std::string_view name;
    std::string_view value;
};

// One event as a producer gives it. Views only: nothing is copied until it is encoded.
struct event_in {
    std::string_view key;
    bool has_key = false;
    std::string_view payload;
    std::span<const header_in> headers;
    int64_t timestamp_ns = 0;  // 0: the partition stamps the append time

    static event_in with_key(std::string_view key, std::string_view payload) {
        return event_in{key, true, payload, {}, 0};
    }
    static event_in without_key(std::string_view payload) {
        return event_in{{}, false, payload, {}, 0};
    }
};

// Iterates the headers region of a record.
class headers_view {
  public:
    headers_view() = default;
    explicit headers_view(std::string_view region) : region_(region) {}

    struct iterator {
        const char* at;
        const char* end;
        header_in operator*() const noexcept {
            const auto* b = reinterpret_cast<const std::byte*>(at);
            const auto name_len = load_le<uint16_t>(b);
            const auto value_len = load_le<uint32_t>(b + 2);
            return {std::string_view(at + header_entry_overhead_bytes, name_len),
                    std::string_view(at + header_entry_overhead_bytes + name_len, value_len)};
        }
        iterator& operator++() noexcept {
            const auto* b = reinterpret_cast<const std::byte*>(at);
            at += header_entry_overhead_bytes + load_le<uint16_t>(b) + load_le<uint32_t>(b + 2);
            return *this;
        }
        bool operator==(const iterator& o) const noexcept { return at == o.at; }
    };

    iterator begin() const noexcept { return {region_.data(), region_.data() + region_.size()}; }
    iterator end() const noexcept {
        return {region_.data() + region_.size(), region_.data() + region_.size()};
    }
    bool empty() const noexcept { return region_.empty(); }
    std::string_view raw() const noexcept { return region_; }

  private:
    std::string_view region_;
};

// One stored event, viewed in place. Valid while the record it points into is.
struct event_view {
    uint64_t offset = 0;
    int64_t timestamp_ns = 0;
    bool has_key = false;
    std::string_view key;
    std::string_view payload;
    headers_view headers;
    std::span<const std::byte> record;  // the encoded record, for copying on as it is

    // Views a record. REQUIRES: `record` holds one whole record written by batch_builder or a
    // partition (a trusted, already validated layout).
    static event_view of(const std::byte* record) noexcept {
        event_view v;
        const auto size = load_le<uint32_t>(record + record_field::record_bytes);
        const auto key_len = load_le<uint32_t>(record + record_field::key_bytes);
        const auto payload_len = load_le<uint32_t>(record + record_field::payload_bytes);
        const auto headers_len = load_le<uint16_t>(record + record_field::headers_bytes);
        const auto* data = reinterpret_cast<const char*>(record + record_header_bytes);
        v.offset = load_le<uint64_t>(record + record_field::offset);
        v.timestamp_ns = load_le<int64_t>(record + record_field::timestamp_ns);
        v.has_key = load_le<uint16_t>(record + record_field::flags) & record_has_key;
        v.key = std::string_view(data, key_len);
        v.payload = std::string_view(data + key_len, payload_len);
        v.headers = headers_view(std::string_view(data + key_len + payload_len, headers_len));
        v.record = std::span<const std::byte>(record, size);
        return v;
    }
};

}  // namespace es::core
