// wire_reader: bounds-checked reads of frame bodies with field-named errors.
#include "protocol/wire_reader.h"

#include "common/assert.h"

namespace es::protocol {

bool wire_reader::boolean(const char* field) {
    const uint8_t v = u8(field);
    if (v > 1) fail(errc::invalid_argument, field, "must be 0 or 1, got " + std::to_string(v));
    return v == 1;
}

uint8_t wire_reader::enum_u8(const char* field, uint8_t max) {
    const uint8_t v = u8(field);
    if (v > max) {
        fail(errc::invalid_argument, field,
             "must be 0.." + std::to_string(max) + ", got " + std::to_string(v));
        return 0;
    }
    return v;
}

std::string_view wire_reader::str(const char* field, size_t max_bytes) {
    const uint16_t n = u16(field);
    if (!ok_) return {};
    if (n > max_bytes) {
        fail(errc::too_large, field,
             std::to_string(n) + " bytes, the limit is " + std::to_string(max_bytes));
        return {};
    }
    return raw(field, n);
}

std::string_view wire_reader::bytes(const char* field) {
    const uint32_t n = u32(field);
    if (!ok_) return {};
    return raw(field, n);
}

std::string_view wire_reader::raw(const char* field, size_t n) {
    if (!ok_) return {};
    if (remaining() < n) {
        truncated(field);
        return {};
    }
    std::string_view v = body_.substr(at_, n);
    at_ += n;
    return v;
}

uint32_t wire_reader::count(const char* field, size_t min_entry_bytes, uint32_t max_count) {
    const uint32_t n = u32(field);
    if (!ok_) return 0;
    if (n > max_count) {
        fail(errc::too_large, field,
             std::to_string(n) + " entries, the limit is " + std::to_string(max_count));
        return 0;
    }
    if (min_entry_bytes > 0 && n > remaining() / min_entry_bytes) {
        fail(errc::invalid_argument, field,
             std::to_string(n) + " entries cannot fit in the " + std::to_string(remaining()) +
                 " bytes left in the frame");
        return 0;
    }
    return n;
}

void wire_reader::enter(const char* array, size_t index) {
    ES_ASSERT(depth_ < max_depth);
    contexts_[depth_++] = context{array, index};
}

void wire_reader::leave() {
    ES_ASSERT(depth_ > 0);
    --depth_;
}

void wire_reader::fail(errc code, const char* field, std::string what) {
    if (!ok_) return;
    ok_ = false;
    error_code_ = code;
    message_ = path(field) + ": " + what;
}

void wire_reader::truncated(const char* field) {
    fail(errc::invalid_argument, field, "runs past the end of the frame");
}

std::string wire_reader::path(const char* field) const {
    std::string p;
    for (size_t i = 0; i < depth_; ++i) {
        p += contexts_[i].array;
        p += '[';
        p += std::to_string(contexts_[i].index);
        p += "].";
    }
    p += field;
    return p;
}

}  // namespace es::protocol
