// Cache-line size, CPU relax hint for lock-free code, and prefetching ahead of a writer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace es {

// 64 bytes on x86-64 and most ARM cores. Adjacent-line prefetch on Intel pulls pairs of lines,
// so the queues pad their indices by two lines.
inline constexpr std::size_t cache_line_bytes = 64;
inline constexpr std::size_t false_sharing_bytes = 2 * cache_line_bytes;

// Tells the core that this is a spin-wait loop (saves power, frees the sibling hyper-thread).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// For a writer that fills a buffer front to back, in memory no cache of this core holds (buffers
// that cycle through more bytes than the cache): it has just written [written_from,
// written_to), and asks for the lines `ahead` bytes further on, up to `limit`, for writing.
// Called after every write, this asks for each line once, well before it is written, so the
// writer's stores do not wait for their lines (nor a locked instruction after them for the
// stores). A prefetch never faults: `limit` only keeps it off other objects' lines.
inline void fetch_ahead_for_writing(const void* written_from, const void* written_to,
                                    const void* limit, std::size_t ahead) noexcept {
    auto at = reinterpret_cast<std::uintptr_t>(written_from) + ahead;
    const auto end = std::min(reinterpret_cast<std::uintptr_t>(written_to) + ahead,
                              reinterpret_cast<std::uintptr_t>(limit));
    for (at &= ~std::uintptr_t{cache_line_bytes - 1}; at < end; at += cache_line_bytes)
        __builtin_prefetch(reinterpret_cast<const void*>(at), 1, 3);
}

}  // namespace es
