// The producer's batching and retry logic, free of I/O and threads so that tests drive it with
// a hand-moved clock: per-partition open batches sealed by size or linger, queues of sealed
// batches sent in order with a cap on batches in flight, idempotent sequence numbers, and the
// retry decision with exponential backoff.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventstream/event.h"
#include "eventstream/status.h"

namespace es::client {

using delivery_callback = std::function<void(const eventstream::delivery_result&)>;

// One event accepted by send(), waiting for its place in a batch.
struct pending_event {
    eventstream::event_view ev;  // valid during add()
    delivery_callback done;
    size_t bytes = 0;  // event_wire_bytes(ev)
};

// A batch holds its events already encoded as PUBLISH records (protocol::append_publish_record),
// so that sending it adds only the frame around them, and each event's report callback.
struct batch {
    std::string topic;
    uint32_t partition = 0;
    std::string records;
    std::vector<delivery_callback> done;  // one per event, in order (may be empty functions)
    size_t bytes = 0;                     // the events' event_wire_bytes
    int64_t opened_ns = 0;                // when its first event came
    uint64_t first_sequence = 0;          // idempotence: set when sealed, kept through retries
    uint64_t producer_id = 0;             // idempotence: set by the producer at the first send
    uint32_t attempts = 0;                // times sent so far
    int64_t first_sent_ns = 0;
    int64_t retry_at_ns = 0;  // not to be sent again before this

    size_t size() const noexcept { return done.size(); }
};

struct batching_limits {
    uint32_t events_max = 10000;
    size_t bytes_max = 1 << 20;
    int64_t linger_ns = 5'000'000;
    uint32_t max_in_flight = 1;   // per partition
    bool send_when_idle = false;  // see producer_options::send_when_idle
};

struct retry_policy {
    int64_t backoff_initial_ns = 10'000'000;
    int64_t backoff_max_ns = 1'000'000'000;
    int64_t delivery_timeout_ns = 120'000'000'000;
};

// The wait before retry number `attempts` (attempts >= 1 sends made): initial * 2^(attempts-1),
// capped at backoff_max_ns.
int64_t retry_backoff_ns(const retry_policy& p, uint32_t attempts) noexcept;

// Whether a batch that failed with `e` after `attempts` sends, first sent at first_sent_ns, is
// retried, and when: only retryable errors, and only while the retry would start before the
// delivery time-out.
struct retry_decision {
    bool retry = false;
    int64_t at_ns = 0;
};
retry_decision decide_retry(const retry_policy& p, const eventstream::error& e, uint32_t attempts,
                            int64_t first_sent_ns, int64_t now_ns) noexcept;

// Not thread-safe: the producer guards it with its mutex.
class batch_accumulator {
    struct partition_state;
    using topic_partitions = std::vector<partition_state>;

  public:
    explicit batch_accumulator(batching_limits limits) : limits_(limits) {}

    // A topic's place in the accumulator, found once by name (made at the first use) and valid
    // as long as the accumulator: the calls below that take one skip the lookup by name.
    class topic_ref {
      public:
        topic_ref() = default;

      private:
        friend class batch_accumulator;
        topic_ref(const std::string* name, topic_partitions* parts) : name_(name), parts_(parts) {}
        const std::string* name_ = nullptr;
        topic_partitions* parts_ = nullptr;
    };
    topic_ref topic(std::string_view name);

    // Adds an event to the partition's open batch (encoded into its records; the event itself
    // is dropped), sealing that batch first when the event would not fit, and after when it
    // is full. `now` is read only when a batch is opened.
    // Returns true when the sender's schedule changed (a batch was opened, so a linger started,
    // or sealed, so it is ready): only then does the sender need waking.
    // REQUIRES: ev.bytes <= bytes_max.
    struct clock_fn {
        int64_t (*read)() noexcept;
    };
    bool add(topic_ref topic, uint32_t partition, pending_event ev, clock_fn now);
    bool add(std::string_view topic, uint32_t partition, pending_event ev, int64_t now_ns);

    // The batches to send now, each partition's in order: seals open batches that are older
    // than the linger (or any, with send_when_idle, whose partition has nothing out) when the
    // partition can send (no batch queued, fewer than max_in_flight out), or any when `flush`; then
    // takes sealed batches whose retry time has come while the partition has fewer than
    // max_in_flight batches out. Each taken batch counts as in flight, with attempts incremented.
    std::vector<batch> take_ready(int64_t now_ns, bool flush);

    // A batch taken earlier is finished (reported, delivered or failed for good).
    void finished(std::string_view topic, uint32_t partition);
    // The buffers of a finished batch whose callbacks are gone (`done` empty), kept (a few)
    // for new batches to reuse. A full batch's records are larger than malloc's mmap
    // threshold: freed, their pages went back to the kernel, and every new batch faulted
    // (and zeroed) its pages afresh, a tenth of a 128-byte producer's CPU.
    void recycle(std::string records, std::vector<delivery_callback> done);
    // A batch taken earlier goes back into its partition's queue, before every batch sealed
    // after it (so retried batches keep their order whatever order they failed in), to be sent
    // again at `retry_at_ns`; before it, nothing queued behind it is sent.
    void retry(batch b, int64_t retry_at_ns);

    // When take_ready() may next have something: the earliest linger expiry or retry time of a
    // batch that could be sent. nullopt: nothing is waiting for time.
    std::optional<int64_t> next_wake_ns() const;

    // Times the partition's open batch was sealed: keyless events move on to the next
    // partition when this changes (round-robin per batch).
    uint64_t seals(std::string_view topic, uint32_t partition) const;
    uint64_t seals(topic_ref topic, uint32_t partition) const;
    // No event is buffered or in flight.
    bool empty() const noexcept { return events_held_ == 0 && in_flight_total_ == 0; }
    // Hands out every batch not in flight (open and sealed), emptying the queues: for close().
    std::vector<batch> drain();

  private:
    template <class Now>
    bool add_reading(topic_ref topic, uint32_t partition, pending_event ev, Now now);
    struct partition_state {
        std::optional<batch> open;
        std::deque<batch> sealed;
        uint32_t in_flight = 0;
        uint64_t next_sequence = 0;
        uint64_t seals = 0;
        size_t last_records_bytes = 0;  // of the last batch sealed: room a new batch reserves
    };
    // Nothing of the partition waits to be sent and it has room for one more batch out.
    bool sendable(const partition_state& s) const noexcept {
        return s.sealed.empty() && s.in_flight < limits_.max_in_flight;
    }
    // When the partition's open batch is due: its linger's end, or at once when the
    // partition has nothing out and limits_.send_when_idle. REQUIRES: s.open.
    int64_t due_ns(const partition_state& s) const noexcept {
        if (limits_.send_when_idle && s.in_flight == 0 && s.sealed.empty()) {
            return s.open->opened_ns;
        }
        return s.open->opened_ns + limits_.linger_ns;
    }
    partition_state& state_of(topic_ref topic, uint32_t partition);
    partition_state* find_state(std::string_view topic, uint32_t partition);  // null: none
    void seal(partition_state& s);

    batching_limits limits_;
    // A topic's partitions by number; looked up by the topic's name without a copy of it. Map
    // nodes stay where they are, which topic_ref relies on.
    std::map<std::string, topic_partitions, std::less<>> topics_;
    size_t events_held_ = 0;  // in open and sealed batches
    static constexpr size_t spares_max = 4;
    std::vector<std::string> spare_records_;  // recycled, empty, with their capacity
    std::vector<std::vector<delivery_callback>> spare_done_;
    size_t in_flight_total_ = 0;
};

}  // namespace es::client
