// native_subscription: EVENTS frames built on the workers, released against credit.
#include "server/native_subscription.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "protocol/codec.h"
#include "server/native_options.h"

namespace es::server {

native_subscription::native_subscription(uint64_t subscription_id, uint64_t request_id,
                                         uint32_t credit_events, uint64_t credit_bytes,
                                         std::function<void()> wake)
    : id_(subscription_id),
      request_id_(request_id),
      wake_(std::move(wake)),
      credit_events_(credit_events),
      credit_bytes_(std::min<uint64_t>(credit_bytes, uint64_t{1} << 63)) {}

status native_subscription::grant(uint32_t events, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    if (credit_events_ + events > std::numeric_limits<uint32_t>::max() ||
        bytes > (uint64_t{1} << 63) - credit_bytes_) {
        return make_error(errc::invalid_argument,
                          "credit: subscription " + std::to_string(id_) +
                              " would hold more than 2^32-1 events or 2^63 bytes of credit");
    }
    credit_events_ += events;
    credit_bytes_ += bytes;
    return {};
}

uint64_t native_subscription::take(std::deque<std::string>& out, size_t room, size_t& moved_bytes) {
    wake_pending_.store(false, std::memory_order_seq_cst);
    uint64_t events = 0;
    moved_bytes = 0;
    std::lock_guard lock(mutex_);
    while (!held_.empty()) {
        held_frame& f = held_.front();
        if (f.events > credit_events_ || f.record_bytes > credit_bytes_) break;
        if (moved_bytes > 0 && moved_bytes + f.bytes.size() > room) break;
        credit_events_ -= f.events;
        credit_bytes_ -= f.record_bytes;
        held_events_ -= f.events;
        held_bytes_ -= f.record_bytes;
        events += f.events;
        moved_bytes += f.bytes.size();
        out.push_back(std::move(f.bytes));
        held_.pop_front();
    }
    return events;
}

core::delivery_credit native_subscription::credit(uint32_t) {
    std::lock_guard lock(mutex_);
    auto left = [](uint64_t credit, uint64_t held, uint64_t cap) -> uint64_t {
        const uint64_t limit = std::min(credit, cap);
        return held >= limit ? 0 : limit - held;
    };
    core::delivery_credit c;
    c.events = static_cast<uint32_t>(left(credit_events_, held_events_, k_native_held_events_max));
    c.bytes = left(credit_bytes_, held_bytes_, k_native_held_bytes_max);
    return c;
}

void native_subscription::on_events(uint32_t partition, const core::record_run& events) {
    held_frame f;
    f.events = events.count;
    f.record_bytes = events.bytes;
    f.bytes.reserve(protocol::frame_header_bytes + protocol::events_body_head_bytes + events.bytes);
    protocol::encode_events_head(f.bytes, request_id_, id_, partition, events.count,
                                 static_cast<uint32_t>(events.bytes));
    f.bytes.append(reinterpret_cast<const char*>(events.data), events.bytes);
    push(std::move(f));
}

void native_subscription::on_gap(uint32_t partition, uint64_t first, uint64_t last) {
    held_frame f;
    protocol::encode(f.bytes, request_id_, protocol::gap_push{id_, partition, first, last});
    push(std::move(f));
}

void native_subscription::push(held_frame f) {
    {
        std::lock_guard lock(mutex_);
        held_events_ += f.events;
        held_bytes_ += f.record_bytes;
        held_.push_back(std::move(f));
    }
    if (!wake_pending_.exchange(true, std::memory_order_seq_cst)) wake_();
}

}  // namespace es::server
