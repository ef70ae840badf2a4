// UDP datagrams to PUBLISH calls.
#include "server/udp_publish_receiver.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <future>

#include "protocol/codec.h"

namespace es::server {

result<std::unique_ptr<udp_publish_receiver>> udp_publish_receiver::open(
    asio::io_context& io, const asio::ip::address& address, uint16_t port, core::engine& engine,
    native_metrics& metrics) {
    asio::ip::udp::socket socket(asio::make_strand(io));
    boost::system::error_code ec;
    const asio::ip::udp::endpoint endpoint(address, port);
    socket.open(endpoint.protocol(), ec);
    if (!ec) socket.bind(endpoint, ec);
    if (ec) {
        return make_error(errc::io_error, "native_port: cannot receive UDP on " +
                                              address.to_string() + ":" + std::to_string(port) +
                                              ": " + ec.message());
    }
    return std::unique_ptr<udp_publish_receiver>(
        new udp_publish_receiver(std::move(socket), engine, metrics));
}

udp_publish_receiver::udp_publish_receiver(asio::ip::udp::socket socket, core::engine& engine,
                                           native_metrics& metrics)
    : socket_(std::move(socket)), engine_(engine), metrics_(metrics) {}

void udp_publish_receiver::start() {
    asio::post(socket_.get_executor(), [this] { receive_next(); });
}

void udp_publish_receiver::close() {
    std::promise<void> done;
    asio::post(socket_.get_executor(), [this, &done] {
        closed_ = true;
        boost::system::error_code ignored;
        socket_.close(ignored);
        done.set_value();
    });
    done.get_future().wait();
}

void udp_publish_receiver::receive_next() {
    if (closed_) return;
    socket_.async_receive_from(asio::buffer(buffer_), sender_,
                               [this](const boost::system::error_code& ec, size_t n) {
                                   if (closed_ || ec == asio::error::operation_aborted) return;
                                   if (!ec) on_datagram(n);
                                   receive_next();
                               });
}

void udp_publish_receiver::on_datagram(size_t bytes) {
    auto malformed = [this](const std::string& why) {
        metrics_.udp_malformed->inc();
        spdlog::debug("native udp: malformed datagram from {}: {}", sender_.address().to_string(),
                      why);
    };
    if (bytes > protocol::max_udp_datagram_bytes) {
        return malformed("larger than " + std::to_string(protocol::max_udp_datagram_bytes) +
                         " bytes");
    }
    auto f = protocol::parse_single_frame(std::string_view(buffer_.data(), bytes),
                                          protocol::max_udp_datagram_bytes);
    if (!f) return malformed(f.err().message);
    if (f->header.type != protocol::message_type::publish) {
        return malformed(std::string("type: must be PUBLISH, got ") +
                         protocol::message_type_name(f->header.type));
    }
    auto m = protocol::decode_publish(f->body);
    if (!m) return malformed(m.err().message);
    if (m->acks != protocol::acks_level::none) return malformed("acks: must be 0 over UDP");
    if (m->events.empty()) return malformed("events: at least one event");
    if (m->producer_id != 0 && !m->partition) {
        return malformed("partition: an idempotent producer must name the partition");
    }
    auto dropped = [this](const error& e) {
        metrics_.udp_dropped->inc();
        spdlog::debug("native udp: datagram from {} dropped: {}", sender_.address().to_string(),
                      e.message);
    };
    auto topic = engine_.find_topic(m->topic);
    if (!topic) return dropped(topic.err());
    make_publish_views(*m, views_);
    core::publish_options options;
    options.on_full = core::backpressure::fail;
    options.partition = m->partition;
    options.producer_id = m->producer_id;
    options.first_sequence = m->first_sequence;
    auto r = engine_.publish(*topic, views_.events, options);
    if (!r) return dropped(r.err());
    if (r->events_refused > 0) {
        return dropped(make_error(errc::queue_full, std::to_string(r->events_refused) +
                                                        " event(s) refused (queue full)"));
    }
    metrics_.udp_accepted->inc();
}

}  // namespace es::server
