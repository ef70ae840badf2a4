// frame_reader, parse_single_frame and the frame header check they share.
#include "protocol/codec.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

namespace es::protocol {

bool is_known_type(uint16_t type) noexcept {
    return message_type_name(static_cast<message_type>(type))[0] != '?';
}

result<frame_header> decode_frame_header(std::string_view bytes, uint32_t max_frame_bytes) {
    ES_ASSERT(bytes.size() >= frame_header_bytes);
    frame_header h;
    uint16_t type = 0;
    std::memcpy(&h.frame_bytes, bytes.data(), 4);
    std::memcpy(&type, bytes.data() + 4, 2);
    std::memcpy(&h.flags, bytes.data() + 6, 2);
    std::memcpy(&h.request_id, bytes.data() + 8, 8);
    if (h.frame_bytes < frame_header_bytes) {
        return make_error(errc::invalid_argument, "frame_bytes: " + std::to_string(h.frame_bytes) +
                                                      " is below the 16-byte header");
    }
    if (h.frame_bytes > max_frame_bytes) {
        return make_error(errc::too_large, "frame_bytes: " + std::to_string(h.frame_bytes) +
                                               " bytes, the limit is " +
                                               std::to_string(max_frame_bytes));
    }
    if (h.flags != 0) {
        return make_error(errc::invalid_argument,
                          "flags: must be 0, got " + std::to_string(h.flags));
    }
    if (!is_known_type(type)) {
        return make_error(errc::invalid_argument,
                          "type: unknown message type " + std::to_string(type));
    }
    h.type = static_cast<message_type>(type);
    return h;
}

frame_reader::frame_reader(uint32_t max_frame_bytes, size_t kept_storage_bytes)
    : max_frame_bytes_(max_frame_bytes), kept_storage_bytes_(kept_storage_bytes) {}

void frame_reader::feed(std::string_view bytes) {
    if (bytes.empty()) return;
    std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
    commit(bytes.size());
}

char* frame_reader::prepare(size_t n) {
    if (kept_ && buffer_.use_count() == 1) {
        // Every keeper is gone. The last dropped its share with an acq_rel decrement (as
        // libstdc++ and libc++ do; use_count() is a relaxed load of the same counter), and
        // this fence orders its last reads of the bytes before our writes over them.
        std::atomic_thread_fence(std::memory_order_acquire);
        kept_ = false;
    }
    if (kept_) {
        prepare_around_kept(n);
        prepared_ = n;
        return buffer_.get() + size_;
    }
    // Bodies handed out are invalid from here on, so the consumed prefix may go. Moving the
    // rest only when at least half is consumed keeps the cost linear in the bytes received.
    if (consumed_ > 0 && consumed_ * 2 >= size_) {
        std::memmove(buffer_.get(), buffer_.get() + consumed_, size_ - consumed_);
        size_ -= consumed_;
        consumed_ = 0;
    }
    if (capacity_ - size_ < n) {
        const size_t grown = std::max({size_ + n, capacity_ * 2, size_t{4096}});
        std::shared_ptr<char[]> bigger = std::make_shared_for_overwrite<char[]>(grown);
        if (size_ > consumed_)
            std::memcpy(bigger.get() + consumed_, buffer_.get() + consumed_, size_ - consumed_);
        buffer_ = std::move(bigger);
        capacity_ = grown;
    }
    prepared_ = n;
    return buffer_.get() + size_;
}

void frame_reader::prepare_around_kept(size_t n) {
    const size_t tail = size_ - consumed_;
    // Room for the rest of the frame begun, when its header is here (so that the next switch
    // to fresh storage moves as little of a frame as can be), and for this receive.
    size_t want = n;
    if (tail >= frame_header_bytes) {
        const auto h = decode_frame_header(
            std::string_view(buffer_.get() + consumed_, frame_header_bytes), max_frame_bytes_);
        if (h && h->frame_bytes > tail) want = std::max<size_t>(want, h->frame_bytes - tail);
    }
    if (capacity_ - size_ >= want) return;  // after the kept bytes
    const size_t needed = std::max(tail + want, kept_storage_bytes_);
    std::shared_ptr<char[]> fresh;
    size_t fresh_capacity = 0;
    if (spare_ && spare_capacity_ >= needed && spare_.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);  // as in prepare()
        fresh = std::move(spare_);
        fresh_capacity = spare_capacity_;
    } else {
        fresh = std::make_shared_for_overwrite<char[]>(needed);
        fresh_capacity = needed;
    }
    if (tail > 0) std::memcpy(fresh.get(), buffer_.get() + consumed_, tail);
    if (capacity_ >= kept_storage_bytes_) {  // worth keeping for reuse
        spare_ = std::move(buffer_);
        spare_capacity_ = capacity_;
    }
    buffer_ = std::move(fresh);
    capacity_ = fresh_capacity;
    size_ = tail;
    consumed_ = 0;
    kept_ = false;
}

void frame_reader::commit(size_t k) {
    ES_ASSERT(k <= prepared_);
    size_ += k;
    prepared_ = 0;
}

result<std::optional<frame>> frame_reader::next() {
    const std::string_view rest(buffer_.get() + consumed_, size_ - consumed_);
    if (rest.size() < frame_header_bytes) return std::optional<frame>{};
    // The header is checked as soon as it is here, so that an oversized or bad frame is refused
    // before its body is waited for.
    auto h = decode_frame_header(rest, max_frame_bytes_);
    if (!h) return std::move(h).err();
    if (rest.size() < h->frame_bytes) return std::optional<frame>{};
    frame f{*h, rest.substr(frame_header_bytes, h->frame_bytes - frame_header_bytes)};
    consumed_ += h->frame_bytes;
    return std::optional<frame>{f};
}

size_t frame_reader::buffered_bytes() const noexcept {
    return size_ - consumed_;
}

void frame_reader::release_spare() noexcept {
    spare_.reset();
    spare_capacity_ = 0;
}

frame_keeper frame_reader::keep() {
    kept_ = true;
    return buffer_;
}

result<frame> parse_single_frame(std::string_view bytes, uint32_t max_frame_bytes) {
    if (bytes.size() < frame_header_bytes) {
        return make_error(errc::invalid_argument, "frame: " + std::to_string(bytes.size()) +
                                                      " bytes are fewer than the 16-byte header");
    }
    auto h = decode_frame_header(bytes, max_frame_bytes);
    if (!h) return std::move(h).err();
    if (h->frame_bytes != bytes.size()) {
        return make_error(errc::invalid_argument, "frame_bytes: " + std::to_string(h->frame_bytes) +
                                                      " but the datagram has " +
                                                      std::to_string(bytes.size()) + " bytes");
    }
    return frame{*h, bytes.substr(frame_header_bytes)};
}

const char* message_type_name(message_type t) noexcept {
    switch (t) {
        case message_type::hello:
            return "HELLO";
        case message_type::ping:
            return "PING";
        case message_type::create_topic:
            return "CREATE_TOPIC";
        case message_type::delete_topic:
            return "DELETE_TOPIC";
        case message_type::list_topics:
            return "LIST_TOPICS";
        case message_type::describe_topic:
            return "DESCRIBE_TOPIC";
        case message_type::metadata:
            return "METADATA";
        case message_type::publish:
            return "PUBLISH";
        case message_type::subscribe:
            return "SUBSCRIBE";
        case message_type::credit:
            return "CREDIT";
        case message_type::unsubscribe:
            return "UNSUBSCRIBE";
        case message_type::commit_offset:
            return "COMMIT_OFFSET";
        case message_type::fetch_offset:
            return "FETCH_OFFSET";
        case message_type::ok:
            return "OK";
        case message_type::hello_ok:
            return "HELLO_OK";
        case message_type::pong:
            return "PONG";
        case message_type::topic_info:
            return "TOPIC_INFO";
        case message_type::topic_list:
            return "TOPIC_LIST";
        case message_type::metadata_info:
            return "METADATA_INFO";
        case message_type::publish_ack:
            return "PUBLISH_ACK";
        case message_type::subscribed:
            return "SUBSCRIBED";
        case message_type::events:
            return "EVENTS";
        case message_type::gap:
            return "GAP";
        case message_type::subscription_ended:
            return "SUBSCRIPTION_ENDED";
        case message_type::offset:
            return "OFFSET";
        case message_type::error:
            return "ERROR";
    }
    return "?";
}

bool is_request(message_type t) noexcept {
    return (static_cast<uint16_t>(t) & 0x8000) == 0;
}

}  // namespace es::protocol
