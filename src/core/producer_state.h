// Idempotent producers: what a partition remembers of each producer id, so that a batch sent
// again (a retry after a lost ack) is acknowledged without being appended twice. Like Kafka, a
// producer numbers its events per partition; the partition keeps the next number it expects
// and the offsets of the producer's last few batches. Owned by the partition's worker.
//
// The state lives in memory: it survives as long as the node runs (a durable partition's copy
// that survives restarts and failover belongs to the replicated partition state).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace es::core {

// Producers a partition remembers; past it the one unused longest is forgotten (its retries
// are then appended again, as if it were new).
inline constexpr size_t max_producers_per_partition = 10000;
// Batches per producer whose offsets are kept to answer an exact retry.
inline constexpr size_t producer_batches_kept = 5;

class producer_table {
  public:
    enum class verdict { append, duplicate, out_of_order };

    struct check_result {
        verdict what = verdict::append;
        // duplicate: the offset the batch's first event got when it was appended, if one of
        // the batches kept holds all of its duplicate events (else unknown: known_offset is
        // false).
        bool known_offset = false;
        uint64_t base_offset = 0;
        // out_of_order, duplicate: the sequence number expected next. A duplicate batch that
        // reaches past it (first_sequence + count > expected_sequence) is new from there on.
        uint64_t expected_sequence = 0;
    };

    // What to do with a batch of `count` events numbered from `first_sequence`. A producer not
    // seen before may start at any number.
    check_result check(uint64_t producer_id, uint64_t first_sequence, uint32_t count) const;

    // Records that the batch was appended at base_offset. `now` orders producers by last use.
    void appended(uint64_t producer_id, uint64_t first_sequence, uint32_t count,
                  uint64_t base_offset, uint64_t now);

    size_t size() const noexcept { return producers_.size(); }

    // The whole table as bytes (for a replicated partition's snapshot), and back. decode
    // consumes its bytes from the front of `in` and returns false on anything malformed,
    // leaving `out` unchanged.
    void encode(std::vector<std::byte>& out) const;
    static bool decode(std::span<const std::byte>& in, producer_table& out);

    bool operator==(const producer_table& o) const;

  private:
    struct batch {
        uint64_t first_sequence = 0;
        uint32_t count = 0;
        uint64_t base_offset = 0;

        bool operator==(const batch&) const = default;
    };
    struct producer {
        uint64_t next_sequence = 0;
        std::array<batch, producer_batches_kept> recent{};
        uint32_t recent_count = 0;
        uint32_t recent_next = 0;
        uint64_t last_used = 0;

        bool operator==(const producer&) const = default;
    };

    std::unordered_map<uint64_t, producer> producers_;
};

}  // namespace es::core
