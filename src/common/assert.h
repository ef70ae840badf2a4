// Invariant checks that stay on in release builds: a broken invariant is a programmer error and
// the process stops at once rather than running on with corrupt state.
#pragma once

namespace es::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* msg);
}  // namespace es::detail

#define ES_ASSERT(expr)                                                      \
    do {                                                                     \
        if (!(expr)) [[unlikely]]                                            \
            ::es::detail::assert_failed(#expr, __FILE__, __LINE__, nullptr); \
    } while (0)

#define ES_ASSERT_MSG(expr, msg)                                           \
    do {                                                                   \
        if (!(expr)) [[unlikely]]                                          \
            ::es::detail::assert_failed(#expr, __FILE__, __LINE__, (msg)); \
    } while (0)
