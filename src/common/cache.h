// Cache-line size and CPU relax hint for lock-free code.
#pragma once

#include <cstddef>

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

}  // namespace es
