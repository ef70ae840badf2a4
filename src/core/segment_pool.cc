// Segment buffer pool.
#include "core/segment_pool.h"

#include <algorithm>

namespace es::core {

void map_pages(std::byte* data, size_t from, size_t to) noexcept {
    constexpr size_t page = 4096;
    volatile std::byte* bytes = data;
    for (size_t at = from; at < to; at += page) bytes[at] = std::byte{0};
}

segment_pool::segment_pool(size_t buffer_bytes, size_t keep_bytes)
    : buffer_bytes_(buffer_bytes), keep_max_(buffer_bytes == 0 ? 0 : keep_bytes / buffer_bytes) {}

std::unique_ptr<std::byte[]> segment_pool::take(size_t* mapped) {
    {
        std::lock_guard lock(mutex_);
        if (!kept_.empty()) {
            kept_buffer b = std::move(kept_.back());
            kept_.pop_back();
            if (mapped != nullptr) *mapped = b.mapped;
            return std::move(b.bytes);
        }
    }
    if (mapped != nullptr) *mapped = 0;
    return std::make_unique_for_overwrite<std::byte[]>(buffer_bytes_);
}

void segment_pool::give(std::unique_ptr<std::byte[]> b, size_t mapped) {
    if (!b) return;
    std::unique_lock lock(mutex_);
    if (kept_.size() < keep_max_) {
        kept_.push_back({std::move(b), std::min(mapped, buffer_bytes_)});
        return;
    }
    lock.unlock();
    b.reset();  // freed outside the lock
}

size_t segment_pool::pretouch() {
    size_t added = 0;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (kept_.size() >= keep_max_) break;
        }
        auto b = std::make_unique_for_overwrite<std::byte[]>(buffer_bytes_);
        map_pages(b.get(), 0, buffer_bytes_);
        std::lock_guard lock(mutex_);
        if (kept_.size() >= keep_max_) break;
        kept_.push_back({std::move(b), buffer_bytes_});
        added += buffer_bytes_;
    }
    return added;
}

size_t segment_pool::kept_bytes() const {
    std::lock_guard lock(mutex_);
    return kept_.size() * buffer_bytes_;
}

}  // namespace es::core
