// The consumer: subscribes to a topic (all partitions, some, or a group member's share) and
// hands events out through poll() or a callback, with credit-based flow control, offset
// commits and gap notices (options.h, consumer_options).
//
// Consumer groups use static assignment: member i of n (consumer_options::member_index and
// member_count) takes the partitions p with p % n == i. Members do not coordinate; each must be
// given its index, and all of a group's members the same count. Rebalancing is not built.
//
// After a lost connection the consumer reconnects and subscribes again from the offset after
// the last event it received, so the application sees no event twice and none skipped.
//
// Thread safety: poll() and start() from one thread at a time (they hand out the events in
// order); commit(), commit_sync(), positions() and close() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventstream/event.h"
#include "eventstream/options.h"
#include "eventstream/status.h"

namespace eventstream {

class consumer {
  public:
    // Connects and says HELLO. Errors: as admin::connect; invalid_argument when
    // member_index >= member_count or a group name is needed and missing.
    static result<std::unique_ptr<consumer>> create(const consumer_options& options = {});
    ~consumer();
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;

    // Subscribes to `topic`: to `partitions` when given, else to all of them, or, in a group,
    // to this member's share. Returns once the server has confirmed every partition's
    // subscription. May be called once. Errors: not_found, invalid_argument (a partition out
    // of range, or a member that gets no partition), closed.
    status subscribe(const std::string& topic, const std::vector<uint32_t>& partitions = {});
    // The partitions subscribed to.
    std::vector<uint32_t> assignment() const;

    // The next event or gap notice, waiting up to timeout_ms; nullopt when none came. Errors:
    // the subscription ended on the server (the message says why), closed.
    result<std::optional<consumer_record>> poll(uint32_t timeout_ms);
    // Up to max_records events and gap notices at once, in order, into `records` (replacing
    // what it held; its elements' strings are reused, so a loop that passes the same vector
    // allocates little). Waits up to timeout_ms for the first; returns how many came (0: none
    // came). One lock and one credit grant per call instead of one per event: the way to
    // consume at full speed. A subscription's end is reported by the call after the events
    // before it. Errors: as poll(); invalid_argument when max_records is 0.
    result<size_t> poll(std::vector<consumer_record>& records, size_t max_records,
                        uint32_t timeout_ms);

    // Callback mode: a thread of the consumer calls `handler` for each record until stop() or
    // close(); errors go to `on_error` (then the thread stops). Not with poll() at once. The
    // thread takes records in batches of up to 256; stop() returns once the batch taken is
    // handled. From the handler itself, stop() returns at once and the thread ends after the
    // batch; a later stop() or close() from another thread joins it.
    status start(std::function<void(const consumer_record&)> handler,
                 std::function<void(const error&)> on_error = {});
    void stop();

    // Commits, for each partition, the offset after the last event poll() has handed out.
    // commit() does not wait (its errors are only logged); commit_sync() waits for the answer.
    // Errors: invalid_argument without a group, and those of any request.
    status commit();
    status commit_sync();
    // Commits the given next offsets (partition -> offset of the next event to read).
    status commit_sync(const std::map<uint32_t, uint64_t>& offsets);
    // The committed offset of a partition for this group; nullopt when none.
    result<std::optional<uint64_t>> committed(uint32_t partition);

    // partition -> offset of the next event poll() will hand out, for partitions with events
    // handed out so far.
    std::map<uint32_t, uint64_t> positions() const;

    // Stops the callback thread, commits (with auto_commit), unsubscribes and disconnects.
    status close();

  private:
    struct impl;
    explicit consumer(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace eventstream
