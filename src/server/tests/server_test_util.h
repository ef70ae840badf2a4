// A temporary directory for the server unit tests, removed when the test ends.
#pragma once

#include "common/tests/temp_dir.h"

namespace es::server::testing {

using es::testing::temp_dir;

}  // namespace es::server::testing
