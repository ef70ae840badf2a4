// One native protocol TCP connection (docs/protocol.md): the handshake, pipelined requests
// answered in the order received, subscriptions pushed against the client's credit, batched
// writes, and the closes: after a protocol error (ERROR, then a clean close), on a time-out
// (handshake, idle, slowloris) and when the node stops.
//
// Everything runs on the socket's io thread (the one thread that runs its io_context: handlers
// and the context's inbox), except the engine's calls into the subscriptions' sinks and the publish
// completions, which hand their work back through the inbox. Memory is bounded: at most
// k_native_in_flight_max requests await their answer, at most k_native_outgoing_bytes_max
// (plus a frame) wait to be sent, and each subscription holds no more than its credit.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.h"
#include "protocol/codec.h"
#include "server/io_inbox.h"
#include "server/native_convert.h"
#include "server/native_metrics.h"
#include "server/native_options.h"
#include "server/native_subscription.h"

namespace es::server {

class admin_pool;

namespace asio = boost::asio;

// What every session of a listener shares. Constant after construction.
struct native_context {
    core::engine& engine;
    native_options options;
    native_metrics& metrics;
    uint16_t port = 0;
    // Where topic creations and deletions run (they may block).
    admin_pool& admin;
    // Called once, on the session's io thread, when the session is over.
    std::function<void(uint64_t session_id)> on_closed;
};

class native_session : public std::enable_shared_from_this<native_session> {
  public:
    native_session(asio::ip::tcp::socket socket, std::shared_ptr<const native_context> context,
                   uint64_t session_id);
    ~native_session();

    // Starts reading. Any thread (posts to the io thread).
    void start();
    // Sends ERROR shutting_down (request_id 0), ends the subscriptions, closes. `done` runs once
    // the subscriptions are ended (on the io thread, or at once if the session is already over).
    // Any thread.
    void shut_down(std::function<void()> done);
    // Refuses the connection: ERROR queue_full (too many connections), then a clean close.
    void refuse(const error& e);

  private:
    enum class state { open, flushing, lingering, closed };

    struct reply_slot {
        bool ready = false;
        std::string bytes;       // empty when the request has no answer
        uint64_t announces = 0;  // SUBSCRIBED: the subscription that may push once sent
    };
    struct subscription_entry {
        std::shared_ptr<native_subscription> sink;
        core::topic_ptr topic;
        uint64_t engine_id = 0;
        uint64_t request_id = 0;  // the SUBSCRIBE's, carried by every push
        bool announced = false;   // its SUBSCRIBED has been queued for sending
        bool ended = false;       // its topic was deleted; ends once announced
    };

    // Reading and dispatch.
    void maybe_read();
    void on_read(const boost::system::error_code& ec, size_t n);
    void process_frames();
    bool can_take_requests() const noexcept;
    void handle(const protocol::frame& f);
    void handle_hello(const protocol::frame& f);
    void handle_request(const protocol::frame& f);

    // Requests (native_session_requests.cc).
    void create_topic(const protocol::frame& f);
    void delete_topic(const protocol::frame& f);
    void list_topics(const protocol::frame& f);
    void describe_topic(const protocol::frame& f);
    void metadata(const protocol::frame& f);
    // Each partition's leader (core::partition_leaders) as this node knows it. Static: admin
    // work off the io thread calls it too.
    static std::vector<uint32_t> leaders_of(const native_context& context,
                                            const core::topic_info& info,
                                            const std::optional<core::cluster_layout>& layout);
    // `received`: f is the frame the reader handed out last (not a held copy), which may be
    // kept for the engine to read its events in place.
    void publish(const protocol::frame& f, bool received);
    // A PUBLISH the engine had no room for (nothing queued): kept, and tried again on a timer
    // while no later request is taken (native_options.h). False once it has waited its
    // longest: the caller answers queue_full.
    bool hold_publish(const protocol::frame& f);
    // A PUBLISH lent from `storage` is answered.
    void end_lent(const void* storage);
    void retry_held_publish(const boost::system::error_code& ec);
    void subscribe(const protocol::frame& f);
    void credit(const protocol::frame& f);
    void unsubscribe(const protocol::frame& f);
    void commit_offset(const protocol::frame& f);
    void fetch_offset(const protocol::frame& f);
    result<core::topic_ptr> find_topic(std::string_view name);
    // Runs `work` on the admin pool (it may block) and answers request `id` in answer slot
    // `seq` with the bytes it returns, or an ERROR; then `then` (when it succeeded), on the
    // io thread. No further request is taken until then, so that requests pipelined after it
    // see its effect, as they would if it had run on the io thread.
    void run_admin(uint64_t seq, uint64_t id, std::function<result<std::string>()> work,
                   std::function<void(native_session&)> then);
    void end_deleted_subscriptions();
    void send_ended(uint64_t id, const subscription_entry& s);

    // Answers, in request order.
    uint64_t open_slot();
    void fill(uint64_t seq, std::string bytes, uint64_t announces = 0);
    void reply(std::string bytes, uint64_t announces = 0) {
        fill(open_slot(), std::move(bytes), announces);
    }
    void reply_error(uint64_t request_id, const error& e);
    // Moves the answers that are ready, in order, to the outgoing queue.
    void flush_replies();
    void pump_subscriptions();
    // Flushes, pumps, writes and resumes reading: after anything that may have made progress.
    void progress();

    // Writing.
    void enqueue(std::string bytes);
    size_t outgoing_bytes() const noexcept { return queued_bytes_ + writing_bytes_; }
    void write_next();
    void on_write(const boost::system::error_code& ec, size_t n);

    // Closing.
    void protocol_error(uint64_t request_id, const error& e);
    void close_with_error(uint64_t request_id, const error& e);
    void finish_flush();
    void close_now();
    void end_subscriptions();

    // The deadlines (handshake, idle, frame, linger), checked on a periodic tick.
    void arm_tick();
    void on_tick(const boost::system::error_code& ec);

    using clock = std::chrono::steady_clock;

    asio::ip::tcp::socket socket_;
    // Of the socket's io_context: answers and wake-ups from the workers come through it.
    io_inbox& inbox_;
    asio::steady_timer tick_;
    asio::steady_timer held_timer_;
    const std::shared_ptr<const native_context> context_;
    const uint64_t session_id_;

    // All on the io thread.
    state state_ = state::open;
    bool hello_done_ = false;
    uint64_t capabilities_ = 0;  // granted in HELLO_OK (protocol::capability_*)
    bool reading_ = false;
    bool processing_ = false;
    bool admin_in_flight_ = false;  // a run_admin call is not answered yet
    bool writing_ = false;
    protocol::frame_reader reader_;
    std::deque<reply_slot> slots_;
    uint64_t first_seq_ = 0;  // sequence number of slots_.front()
    std::deque<std::string> queued_;
    size_t queued_bytes_ = 0;
    std::vector<std::string> in_write_;
    size_t writing_bytes_ = 0;
    std::map<uint64_t, subscription_entry> subscriptions_;
    uint64_t next_subscription_id_ = 1;
    std::unordered_map<std::string, core::topic_ptr> topics_;  // lookups cache, bounded
    publish_views views_;                                      // reused by publish()
    // The reader's storage that holds PUBLISH frames lent to the engine and not yet answered,
    // by address: how many such frames, and its size (k_native_lent_storage_bytes_max).
    struct lent_storage {
        size_t frames = 0;
        size_t bytes = 0;
    };
    std::unordered_map<const void*, lent_storage> lent_storage_;
    size_t lent_storage_bytes_ = 0;  // the sizes of lent_storage_'s entries
    struct held_publish {
        protocol::frame_header header;
        std::string body;  // the frame's, copied out of the reader
        std::chrono::steady_clock::time_point give_up_at;
        std::chrono::microseconds wait{0};
        bool armed = false;  // a retry is due on held_timer_
    };
    std::optional<held_publish> held_;
    clock::time_point connected_at_;
    clock::time_point last_frame_at_;
    std::optional<clock::time_point> frame_started_at_;
    clock::time_point write_progress_at_;  // last bytes the write in progress moved
    clock::time_point linger_until_;
    std::vector<std::function<void()>> on_subscriptions_ended_;
};

}  // namespace es::server
