// Fuzz target: the controller's Raft log entries and snapshots (outside input: a corrupt disk
// or a foreign member can put anything in the log). The input goes whole to
// decode_controller_command and to controller_state::restore; then, cut into chunks (each in a
// heap block of its own size, so that ASan sees a read past its end) and cut at each newline,
// as logs of commands applied one after another (the lines let a seed hold a sequence that
// builds up a state worth changing). Checks: errors are invalid_argument with a message; what
// decodes encodes and decodes to itself; a refused command or snapshot changes nothing; after every
// command the state keeps its invariants and its snapshot restores to an equal state.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <span>
#include <string_view>

#include "fuzz_util.h"
#include "replication/controller_state.h"

namespace {

using es::replication::controller_command;
using es::replication::controller_state;

// `text` copied to a heap block of exactly its size.
std::unique_ptr<std::byte[]> exact_copy(std::string_view text) {
    auto owned = std::make_unique<std::byte[]>(text.size());
    if (!text.empty()) std::memcpy(owned.get(), text.data(), text.size());
    return owned;
}

void check_error(const es::error& e) {
    FUZZ_CHECK(e.code == es::errc::invalid_argument || e.code == es::errc::already_exists ||
               e.code == es::errc::not_found);
    FUZZ_CHECK(!e.message.empty());
}

// What apply and restore promise of every state they leave.
void check_invariants(const controller_state& s) {
    std::set<uint64_t> ids;
    for (const auto& [name, t] : s.topics()) {
        FUZZ_CHECK(name == t.config.name);
        FUZZ_CHECK(t.id >= 1 && t.id < s.next_topic_id());
        FUZZ_CHECK(ids.insert(t.id).second);
        FUZZ_CHECK(s.find_topic(t.id) == &t);
        FUZZ_CHECK(t.partitions.size() == t.config.partitions);
        for (const auto& p : t.partitions) {
            FUZZ_CHECK(p.replicas.size() == t.config.replication_factor);
            FUZZ_CHECK(std::set<uint64_t>(p.replicas.begin(), p.replicas.end()).size() ==
                       p.replicas.size());
            for (uint64_t r : p.replicas) FUZZ_CHECK(s.find_node(r) != nullptr);
            if (p.leader != 0) {
                FUZZ_CHECK(std::find(p.replicas.begin(), p.replicas.end(), p.leader) !=
                           p.replicas.end());
            } else {
                FUZZ_CHECK(p.leader_term == 0);
            }
        }
    }
    for (const auto& [id, n] : s.nodes()) FUZZ_CHECK(id == n.id && id != 0);

    const auto snap = s.snapshot();
    controller_state back;
    FUZZ_CHECK(back.restore(snap));
    FUZZ_CHECK(back == s);
}

// Decodes `text` as one command; if it decodes, applies it to `s`.
void one_command(std::string_view text, controller_state& s) {
    const auto owned = exact_copy(text);
    const auto decoded = es::replication::decode_controller_command({owned.get(), text.size()});
    if (!decoded) {
        FUZZ_CHECK(decoded.err().code == es::errc::invalid_argument);
        FUZZ_CHECK(!decoded.err().message.empty());
        return;
    }
    const auto again =
        es::replication::decode_controller_command(es::replication::encode(*decoded));
    FUZZ_CHECK(again);
    FUZZ_CHECK(*again == *decoded);

    const controller_state before = s;
    const auto applied = s.apply(*decoded);
    if (!applied) {
        check_error(applied.err());
        FUZZ_CHECK(s == before);
    }
    check_invariants(s);
}

// A state with a few nodes and topics, for restore and apply to change.
controller_state seeded_state() {
    controller_state s;
    for (uint64_t id = 1; id <= 3; ++id) {
        controller_command c;
        c.type = controller_command::kind::register_node;
        c.node.id = id;
        c.node.raft_address = "127.0.0.1:" + std::to_string(7070 + id);
        FUZZ_CHECK(s.apply(c));
    }
    controller_command t;
    t.type = controller_command::kind::create_topic;
    t.config.name = "seed";
    t.config.partitions = 3;
    t.config.storage = es::core::storage_mode::durable;
    t.config.replication_factor = 2;
    FUZZ_CHECK(s.apply(t));
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    // The input whole, as a command and as a snapshot.
    controller_state s = seeded_state();
    one_command(input, s);

    controller_state restored = seeded_state();
    const controller_state before = restored;
    const auto owned = exact_copy(input);
    const auto r = restored.restore({owned.get(), size});
    if (!r) {
        FUZZ_CHECK(r.err().code == es::errc::invalid_argument);
        FUZZ_CHECK(!r.err().message.empty());
        FUZZ_CHECK(restored == before);
    } else {
        check_invariants(restored);
        // A snapshot document read back is written out the same way again.
        controller_state twice;
        FUZZ_CHECK(twice.restore(restored.snapshot()));
        FUZZ_CHECK(twice.snapshot() == restored.snapshot());
    }

    // The input in chunks, and in lines, as logs of commands.
    controller_state chunk_log = seeded_state();
    for (std::string_view chunk : es::fuzz::split_chunks(input)) one_command(chunk, chunk_log);
    controller_state line_log = seeded_state();
    for (std::string_view rest = input; !rest.empty();) {
        const size_t end = rest.find('\n');
        one_command(rest.substr(0, end), line_log);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    return 0;
}
