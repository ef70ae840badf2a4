// The producer: batches events per partition and publishes them asynchronously, with acks,
// retries and optional idempotence (options.h, producer_options).
//
// Routing: the producer picks each event's partition itself. An event with a key goes to
// stable_hash(key) mod partitions, the server's own rule, so that a key lands in the same
// partition whoever publishes it; keyless events fill one partition's batch, then the next
// (round-robin per batch). The partition count is read from the server once per topic, at the
// first send() to it.
//
// Delivery reports: every send() is reported exactly once, through its callback (called on the
// producer's I/O thread: it must not block, and so must not call send(), which may wait for
// buffer space, for the partition count of a new topic or for another thread handing batches
// to the connection, nor flush(), which waits for the reports it is part of) or its future. Events
// of one partition are reported in the order they were sent.
//
// Sending: a batch that is ready goes to the connection from the thread that made it so: send()
// (the event filled it), or the I/O thread (an ack let the partition send again). A sender
// thread sends what time makes ready (lingers, retry waits) and what flush() asks for.
//
// Thread safety: send(), flush() and close() may be called from any thread, concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "eventstream/event.h"
#include "eventstream/options.h"
#include "eventstream/status.h"

namespace eventstream {

using delivery_callback = std::function<void(const delivery_result&)>;

class producer {
  public:
    // Connects and says HELLO. Errors: as admin::connect, and invalid_argument for options
    // out of range (a zero batch cap, a buffer smaller than one batch).
    static result<std::unique_ptr<producer>> create(const producer_options& options = {});
    // Closes as close() with no wait: undelivered events are reported as closed.
    ~producer();
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;

    // Queues `e` for `topic`, to the partition given or to the one its key routes to. Returns
    // once the event is buffered; `on_delivery` runs later. Errors (and then `on_delivery` is
    // not called): queue_full (the buffer stayed full, producer_options::block_when_full),
    // not_found (no such topic), invalid_argument (partition out of range, a header name over
    // 255 bytes or more than 65 535 bytes of headers), too_large (the event is larger than a
    // batch may be), closed.
    status send(const std::string& topic, event e, delivery_callback on_delivery,
                std::optional<uint32_t> partition = std::nullopt);
    // As send(), with the event's bytes read from where the caller has them: they are copied
    // once, into the batch, before this returns (a send() of an owned event moves it in, then
    // copies it into the batch all the same).
    status send_copy(const std::string& topic, const event_view& e, delivery_callback on_delivery,
                     std::optional<uint32_t> partition = std::nullopt);
    // The same, reporting through a future; an error of send() itself is the future's value.
    // (Its own name, so that a partition given as a literal 0 is never read as a null callback.)
    std::future<delivery_result> send_future(const std::string& topic, event e,
                                             std::optional<uint32_t> partition = std::nullopt);

    // Sends every buffered event now and waits until all events sent before the call are
    // reported. Error: timed_out after `timeout_ms` (the events stay queued).
    status flush(uint32_t timeout_ms = 60000);
    // Flushes (up to timeout_ms), then fails what is left with closed and disconnects.
    // Later calls of send() fail with closed. Every event has been reported when it returns,
    // also in a thread that called it while another thread was closing (it waits for that
    // close). From a delivery callback during a close it returns at once. From a delivery
    // callback with no close running it closes without waiting: the events in flight, then
    // the unsent ones, are reported closed once the callback has returned (on the I/O thread,
    // in order); a later close() (or the destructor) from another thread finishes it. The
    // producer must not be destroyed from its own callback.
    status close(uint32_t timeout_ms = 60000);

    // The producer id (0 unless idempotent). A partition one of whose batches failed for good
    // (not retried, or past delivery_timeout_ms) goes on under a fresh random id, as the node
    // would otherwise refuse its later batches for the gap in their numbering.
    uint64_t producer_id() const noexcept;

  private:
    struct impl;
    explicit producer(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace eventstream
