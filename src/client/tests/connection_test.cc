// The connection against a fake server on a loopback socket: handshake, pipelined answers
// matched by request id, time-outs, and reconnection after a dropped connection.
#include "client/connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "common/socket_buffers.h"
#include "fake_server.h"
#include "protocol/codec.h"

namespace es::client {
namespace {

using namespace std::chrono_literals;
using test::fake_server;

eventstream::connection_options options_for(const fake_server& s) {
    eventstream::connection_options o;
    o.server = s.address();
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 2000;
    o.reconnect_backoff_initial_ms = 10;
    o.reconnect_backoff_max_ms = 50;
    o.idle_ping_ms = 0;
    return o;
}

std::string ping_frame(uint64_t id, std::string data) {
    std::string f;
    protocol::encode_ping(f, id, protocol::ping{std::move(data)});
    return f;
}

bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 500; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(connection, answers_are_matched_by_request_id_out_of_order) {
    // The server holds three PINGs and answers them in reverse order.
    std::vector<std::pair<uint64_t, std::string>> held;
    fake_server server([&](fake_server& s, const protocol::frame& f) {
        auto p = protocol::decode_ping(f.body);
        held.emplace_back(f.header.request_id, p->data);
        if (held.size() == 3) {
            for (auto it = held.rbegin(); it != held.rend(); ++it) {
                std::string out;
                protocol::encode_pong(out, it->first, protocol::ping{it->second});
                s.reply(out);
            }
        }
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c) << c.err().to_string();
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < 3; ++i) {
        auto p = std::make_shared<std::promise<std::string>>();
        answers.push_back(p->get_future());
        const uint64_t id = (*c)->next_request_id();
        (*c)->request(id, ping_frame(id, "ping-" + std::to_string(i)), [p](result<owned_frame> r) {
            p->set_value(r ? protocol::decode_ping(r->body)->data : "error");
        });
    }
    for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[i].get(), "ping-" + std::to_string(i));
}

// The PONG data the server in the next test answers a PUBLISH with: what it received.
std::string publish_summary(std::string_view topic, std::string_view payload) {
    return std::string(topic) + "/" + std::to_string(payload.size()) + "/" +
           std::to_string(std::hash<std::string_view>{}(payload));
}

TEST(connection, frames_with_short_and_long_tails_go_out_whole_and_in_order) {
    // PUBLISH frames sent as the producer sends them, a head and the records as a viewed tail:
    // short tails (copied into the write buffer) and long ones (written from their own bytes
    // in a gathered write), pipelined with whole frames from three threads. The server must
    // see every frame intact, each thread's in the order sent. The records' owners are
    // dropped at once, so only `keep` holds them (under ASan, records released before they
    // are written would show).
    fake_server server([](fake_server& s, const protocol::frame& f) {
        auto p = protocol::decode_publish(f.body);
        std::string data = "bad frame";
        if (p && p->events.size() == 1) data = publish_summary(p->topic, p->events[0].payload);
        std::string out;
        protocol::encode_pong(out, f.header.request_id, protocol::ping{data});
        s.reply(out);
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c) << c.err().to_string();
    constexpr int threads = 3, per_thread = 60;
    // Payload sizes around the gathering threshold and well past it.
    const std::vector<size_t> sizes{10, 4000, 4096, 5000, 70000};
    auto topic_of = [](int t, int i) {
        std::string topic = "t";
        topic += std::to_string(t);
        topic += '-';
        topic += std::to_string(i);
        return topic;
    };
    auto payload_of = [&](int i) {
        return std::string(sizes[i % sizes.size()], char('a' + i % 26));
    };
    std::vector<std::vector<std::future<std::string>>> answers(threads);
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string topic = topic_of(t, i);
                auto records = std::make_shared<std::string>();
                protocol::append_publish_record(*records, std::nullopt, payload_of(i), 0, 0);
                protocol::publish_head head;
                head.topic = topic;
                const uint64_t id = (*c)->next_request_id();
                auto p = std::make_shared<std::promise<std::string>>();
                answers[t].push_back(p->get_future());
                auto on_reply = [p](result<owned_frame> r) {
                    p->set_value(r ? protocol::decode_ping(r->body)->data : r.err().to_string());
                };
                std::string frame;
                if (i % 3 == 0) {
                    protocol::encode_publish(frame, id, head, 1, *records);
                    (*c)->request(id, std::move(frame), std::move(on_reply));
                } else {
                    protocol::encode_publish_head(frame, id, head, 1, records->size());
                    const std::string_view tail = *records;
                    (*c)->request_with_tail(id, std::move(frame), tail, std::move(records),
                                            std::move(on_reply));
                }
            }
        });
    }
    for (auto& t : senders) t.join();
    for (int t = 0; t < threads; ++t)
        for (int i = 0; i < per_thread; ++i)
            EXPECT_EQ(answers[t][i].get(), publish_summary(topic_of(t, i), payload_of(i)))
                << "thread " << t << " frame " << i;
    // Each thread's frames reached the server in the order that thread sent them.
    std::vector<int> next(threads, 0);
    for (const auto& [type, body] : server.received()) {
        ASSERT_EQ(type, protocol::message_type::publish);
        auto p = protocol::decode_publish(body);
        ASSERT_TRUE(p);
        const std::string topic(p->topic);
        const int t = std::stoi(topic.substr(1));
        const int i = std::stoi(topic.substr(topic.find('-') + 1));
        EXPECT_EQ(i, next[t]) << "thread " << t;
        next[t] = i + 1;
    }
    EXPECT_EQ(next, std::vector<int>(threads, per_thread));
}

TEST(connection, a_request_without_answer_times_out) {
    fake_server server([](fake_server&, const protocol::frame&) {});
    auto o = options_for(server);
    o.request_timeout_ms = 100;
    auto c = connection::open(o);
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, error_code::timed_out);
}

// A close() while another thread's close() is still stopping the I/O thread returns only
// after it: every pending request has had its answer, and the connection may go.
TEST(connection, a_close_during_another_threads_close_returns_after_it) {
    fake_server server([](fake_server&, const protocol::frame&) {});  // never answers
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    std::atomic<bool> answered{false};
    const uint64_t id = (*c)->next_request_id();
    (*c)->request(id, ping_frame(id, "x"), [&](result<owned_frame> r) {
        EXPECT_FALSE(r);
        std::this_thread::sleep_for(400ms);  // the first close() is joining the I/O thread
        answered = true;
    });
    std::thread first([&] { (*c)->close(); });
    std::this_thread::sleep_for(100ms);
    (*c)->close();
    EXPECT_TRUE(answered.load()) << "the second close() returned before the I/O thread stopped";
    first.join();
    c->reset();
}

TEST(connection, a_request_racing_close_is_answered) {
    // Requests from two threads while a third closes: each is answered, the answer or closed,
    // whether it got in before the close or not. (One posted after the I/O loop had ended was
    // never answered: its caller waited for ever.) The race is in a window of a few
    // instructions, so it is run in many rounds.
    fake_server server([](fake_server& s, const protocol::frame& f) {
        std::string out;
        protocol::encode_pong(out, f.header.request_id, protocol::ping{"pong"});
        s.reply(out);
    });
    for (int round = 0; round < 60; ++round) {
        auto c = connection::open(options_for(server));
        ASSERT_TRUE(c);
        std::atomic<uint64_t> issued{0}, answered{0}, closed_answers{0};
        std::atomic<bool> stop{false};
        auto requester = [&] {
            while (!stop.load()) {
                const uint64_t id = (*c)->next_request_id();
                ++issued;
                (*c)->request(id, ping_frame(id, "x"), [&](result<owned_frame> r) {
                    if (!r) {
                        EXPECT_EQ(r.err().code, error_code::closed);
                        ++closed_answers;
                    }
                    ++answered;
                });
                if (closed_answers.load() > 0) break;
            }
        };
        std::thread a(requester), b(requester);
        std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 10)));
        (*c)->close();
        stop = true;
        a.join();
        b.join();
        EXPECT_TRUE(eventually([&] { return answered.load() == issued.load(); }))
            << "round " << round << ": " << issued.load() - answered.load()
            << " requests never answered";
        c->reset();
    }
}

TEST(connection, a_close_from_a_handler_fails_the_others_when_the_handler_returns) {
    fake_server server([](fake_server& s, const protocol::frame& f) {
        // Answers only the first PING; the rest stay pending.
        if (f.header.request_id != 1000) return;
        std::string out;
        protocol::encode_pong(out, f.header.request_id, protocol::ping{"pong"});
        s.reply(out);
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    std::promise<error_code> pending_answer;
    const uint64_t pending_id = (*c)->next_request_id();
    (*c)->request(pending_id, ping_frame(pending_id, "x"), [&](result<owned_frame> r) {
        pending_answer.set_value(r ? error_code::ok : r.err().code);
    });
    std::atomic<bool> close_returned{false};
    (*c)->request(1000, ping_frame(1000, "y"), [&](result<owned_frame> r) {
        EXPECT_TRUE(r);
        (*c)->close();  // on the I/O thread: starts the close, no join of itself
        close_returned = true;
    });
    auto f = pending_answer.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), error_code::closed);
    EXPECT_TRUE(close_returned.load());
    // Closed from then on, and the destructor joins the thread.
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "z"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, error_code::closed);
    c->reset();
}

TEST(connection, a_thread_made_after_close_is_not_its_io_thread) {
    // Thread ids are reused: a thread made after the I/O thread was joined often gets its id.
    // Taken for the I/O thread, it would be refused a close() or a destruction.
    fake_server server([](fake_server&, const protocol::frame&) {});
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    (*c)->close();
    int taken_for_it = 0;
    for (int i = 0; i < 20; ++i) {
        std::thread t([&] { taken_for_it += (*c)->on_io_thread() ? 1 : 0; });
        t.join();
    }
    EXPECT_EQ(taken_for_it, 0);
    std::thread destroyer([&] { c->reset(); });
    destroyer.join();
}

TEST(connection, an_error_frame_becomes_the_servers_error) {
    fake_server server([](fake_server& s, const protocol::frame& f) {
        std::string out;
        protocol::encode(out, f.header.request_id, protocol::error_reply{4, true, "full"});
        s.reply(out);
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_TRUE(r);
    auto s = answer_error(*r, protocol::message_type::pong);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, error_code::queue_full);
    EXPECT_TRUE(s.err().retryable());
    EXPECT_EQ(s.err().message, "full");
}

TEST(connection, reconnects_after_the_server_drops_it) {
    fake_server server([](fake_server& s, const protocol::frame& f) {
        std::string out;
        protocol::encode_pong(out, f.header.request_id, protocol::ping{"pong"});
        s.reply(out);
    });
    std::atomic<int> reconnects{0};
    auto c = connection::open(options_for(server), [&] { ++reconnects; });
    ASSERT_TRUE(c);
    server.drop_connection();
    ASSERT_TRUE(eventually([&] { return reconnects.load() == 1 && (*c)->connected(); }));
    EXPECT_EQ(server.connections(), 2);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "again"));
    ASSERT_TRUE(r) << r.err().to_string();
    EXPECT_EQ(r->header.type, protocol::message_type::pong);
}

TEST(connection, a_pending_request_fails_with_connection_lost_when_dropped) {
    fake_server server([](fake_server& s, const protocol::frame&) { s.drop_connection(); });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, error_code::connection_lost);
    EXPECT_TRUE(r.err().retryable());
}

// SO_SNDBUF of this process's socket connected to `port` on loopback; -1 when there is none.
int send_buffer_of_socket_to(uint16_t port) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        const int fd = std::stoi(entry.path().filename().string());
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
            peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
            continue;
        int value = -1;
        len = sizeof value;
        if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, &len) != 0) return -1;
        return value;
    }
    return -1;
}

TEST(connection, the_socket_gets_the_send_buffer_asked_again_after_a_reconnect) {
    fake_server server([](fake_server&, const protocol::frame&) {});
    auto o = options_for(server);
    o.send_buffer_bytes = 96 * 1024;
    auto c = connection::open(o, [] {});
    ASSERT_TRUE(c);
    EXPECT_EQ(send_buffer_of_socket_to(server.port()), 2 * 96 * 1024);  // Linux doubles it
    server.drop_connection();
    ASSERT_TRUE(eventually([&] { return server.connections() == 2 && (*c)->connected(); }));
    EXPECT_EQ(send_buffer_of_socket_to(server.port()), 2 * 96 * 1024);
}

// The public default (include/eventstream/options.h cannot include the library's headers) is
// the one the node uses.
TEST(connection, the_default_send_buffer_is_the_one_the_node_uses) {
    EXPECT_EQ(eventstream::connection_options{}.send_buffer_bytes,
              es::k_default_socket_send_buffer_bytes);
}

TEST(connection, a_send_buffer_of_zero_leaves_the_kernels_own) {
    fake_server server([](fake_server&, const protocol::frame&) {});
    auto o = options_for(server);
    o.send_buffer_bytes = 0;
    auto c = connection::open(o);
    ASSERT_TRUE(c);
    const int own = send_buffer_of_socket_to(server.port());
    ASSERT_GT(own, 0);
    // A fresh TCP socket's own size (net.ipv4.tcp_wmem's default), not one set by the client.
    const int fresh = ::socket(AF_INET, SOCK_STREAM, 0);
    int value = -1;
    socklen_t len = sizeof value;
    ASSERT_EQ(::getsockopt(fresh, SOL_SOCKET, SO_SNDBUF, &value, &len), 0);
    ::close(fresh);
    EXPECT_NE(own, 2 * int(eventstream::connection_options{}.send_buffer_bytes));
    EXPECT_GE(own, value);
}

TEST(connection, open_fails_when_nothing_listens) {
    int port = 0;
    {
        fake_server gone([](fake_server&, const protocol::frame&) {});
        port = gone.port();
    }
    eventstream::connection_options o;
    o.server = "127.0.0.1:" + std::to_string(port);
    auto c = connection::open(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.err().code, error_code::connection_lost);
}

TEST(connection, server_address_must_be_host_and_port) {
    EXPECT_TRUE(parse_server_address("localhost:7070"));
    EXPECT_EQ(parse_server_address("[::1]:7070")->first, "::1");
    EXPECT_FALSE(parse_server_address("localhost"));
    EXPECT_FALSE(parse_server_address("localhost:0"));
    EXPECT_FALSE(parse_server_address("localhost:99999"));
    EXPECT_FALSE(parse_server_address(":7070"));
}

}  // namespace
}  // namespace es::client
