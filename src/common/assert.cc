// Reports a failed ES_ASSERT and aborts.
#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace es::detail {

void assert_failed(const char* expr, const char* file, int line, const char* msg) {
    std::fprintf(stderr, "assertion failed: %s at %s:%d%s%s\n", expr, file, line, msg ? ": " : "",
                 msg ? msg : "");
    std::fflush(stderr);
    std::abort();
}

}  // namespace es::detail
