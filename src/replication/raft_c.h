// libraft's C headers with C linkage: raft.h 0.15 declares its functions without
// extern "C", so C++ must wrap it. Include this instead of <raft.h> or <raft/uv.h>.
#pragma once

#include <uv.h>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}
