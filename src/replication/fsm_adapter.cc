// The raft_fsm adapter: libraft's C callbacks in front of a state_machine (see fsm_adapter.h).
#include "replication/fsm_adapter.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace es::replication {
namespace {

// The 8 bytes in front of every snapshot. They make an empty machine state a non-empty buffer
// (raft_uv stores the snapshot as a file, and raft_malloc(0) may return NULL) and let restore
// refuse bytes that did not come from this adapter.
constexpr char k_snapshot_magic[8] = {'E', 'S', 'S', 'N', 'A', 'P', '0', '1'};

constexpr size_t k_frame_header_bytes = 8;

struct fsm_context {
    state_machine* machine = nullptr;
    // libraft stores last_applied only after fsm->apply returns, so during apply the entry's
    // index is raft_last_applied + 1 (configuration and barrier entries count too).
    const struct raft* raft = nullptr;
    // The status of the latest apply; apply's result points here (see fsm_adapter.h).
    status last_status;
};

fsm_context* context_of(struct raft_fsm* fsm) {
    return static_cast<fsm_context*>(fsm->data);
}

// A failure of this node's own storage (the disk, RocksDB), as opposed to an answer the machine
// gives every replica alike (a malformed command, offsets already taken, an unknown topic).
bool is_local_failure(errc code) noexcept {
    return code == errc::io_error || code == errc::timed_out;
}

// Every other replica applied the command. Going on without it would leave this replica short
// of it for good: libraft counts the entry applied, a later snapshot covers it and the Raft log
// behind the snapshot is dropped, and this replica may lead later. So the node stops, as etcd
// does on a failed apply: the entry stays in its Raft log and is applied again when it
// restarts, or the node keeps stopping, loudly, until its disk is fixed.
[[noreturn]] void stop_on_local_failure(uint64_t index, const error& e) {
    spdlog::critical(
        "raft: applying the committed entry {} failed on this node's storage: {}. Stopping the "
        "node rather than going on without it; the entry is applied again after a restart",
        index, e.message);
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "fatal: applying Raft entry %llu failed on this node's storage: %s\n",
                 static_cast<unsigned long long>(index), e.message.c_str());
    std::fflush(stderr);
    std::abort();
}

int fsm_apply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result) {
    fsm_context* context = context_of(fsm);
    const uint64_t index = context->raft != nullptr ? context->raft->last_applied + 1 : 0;
    // Unframe (encode_command). A frame that does not add up is refused: libraft then stops
    // applying rather than feed the machine bytes it cannot trust.
    const auto* frame = static_cast<const std::byte*>(buf->base);
    if (buf->len < k_frame_header_bytes || buf->len % 8 != 0) return RAFT_MALFORMED;
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= uint64_t(frame[i]) << (8 * i);
    if (length > buf->len - k_frame_header_bytes) return RAFT_MALFORMED;
    std::span<const std::byte> command(frame + k_frame_header_bytes, length);
    context->last_status = context->machine->apply(index, command);
    if (!context->last_status && is_local_failure(context->last_status.err().code)) {
        stop_on_local_failure(index, context->last_status.err());
    }
    *result = &context->last_status;
    return 0;
}

int fsm_snapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs) {
    result<std::vector<std::byte>> state = context_of(fsm)->machine->snapshot();
    if (!state) return RAFT_IOERR;
    const size_t len = sizeof k_snapshot_magic + state->size();
    auto* array = static_cast<struct raft_buffer*>(raft_malloc(sizeof(struct raft_buffer)));
    if (array == nullptr) return RAFT_NOMEM;
    void* base = raft_malloc(len);
    if (base == nullptr) {
        raft_free(array);
        return RAFT_NOMEM;
    }
    std::memcpy(base, k_snapshot_magic, sizeof k_snapshot_magic);
    if (!state->empty()) {
        std::memcpy(static_cast<char*>(base) + sizeof k_snapshot_magic, state->data(),
                    state->size());
    }
    array[0].base = base;
    array[0].len = len;
    *bufs = array;
    *n_bufs = 1;
    return 0;
}

int fsm_restore(struct raft_fsm* fsm, struct raft_buffer* buf) {
    if (buf->len < sizeof k_snapshot_magic ||
        std::memcmp(buf->base, k_snapshot_magic, sizeof k_snapshot_magic) != 0) {
        return RAFT_MALFORMED;
    }
    std::span<const std::byte> state(
        static_cast<const std::byte*>(buf->base) + sizeof k_snapshot_magic,
        buf->len - sizeof k_snapshot_magic);
    status restored = context_of(fsm)->machine->restore(state);
    if (!restored) return RAFT_IOERR;
    raft_free(buf->base);
    return 0;
}

}  // namespace

struct raft_buffer encode_command(std::span<const std::byte> command) {
    const size_t len = (k_frame_header_bytes + command.size() + 7) / 8 * 8;
    struct raft_buffer buf {};
    buf.base = raft_malloc(len);
    if (buf.base == nullptr) return buf;
    buf.len = len;
    auto* out = static_cast<std::byte*>(buf.base);
    static_assert(k_frame_header_bytes == 8);
    for (int i = 0; i < 8; ++i) out[i] = std::byte(uint64_t(command.size()) >> (8 * i));
    // Only the padding after the command is zeroed: a pass over a megabyte batch costs as
    // much as the copy.
    const size_t used = k_frame_header_bytes + command.size();
    if (!command.empty()) std::memcpy(out + k_frame_header_bytes, command.data(), command.size());
    std::memset(out + used, 0, len - used);
    return buf;
}

void init_raft_fsm(struct raft_fsm* fsm, es::replication::state_machine* machine) {
    ES_ASSERT(machine != nullptr);
    std::memset(fsm, 0, sizeof *fsm);
    auto* context = new fsm_context;
    context->machine = machine;
    fsm->version = 1;
    fsm->data = context;
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
}

void bind_raft_fsm(struct raft_fsm* fsm, const struct raft* raft) {
    context_of(fsm)->raft = raft;
}

void close_raft_fsm(struct raft_fsm* fsm) {
    delete context_of(fsm);
    fsm->data = nullptr;
}

}  // namespace es::replication
