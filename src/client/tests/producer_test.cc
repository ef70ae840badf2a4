// The producer against a fake server: retries of retryable errors keep the batch (and its
// idempotent sequence), a lost connection is retried after reconnecting, linger gathers
// events into one PUBLISH, and keys go to the server's partition.
#include "eventstream/producer.h"

#include <gtest/gtest.h>

#include <map>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <mutex>
#include <thread>

#include "client/routing.h"
#include "fake_server.h"
#include "protocol/codec.h"

namespace es::client {
namespace {

using eventstream::producer;
using eventstream::producer_options;
using test::fake_server;

constexpr uint32_t topic_partitions = 4;

// Answers DESCRIBE with a topic of topic_partitions partitions, and PUBLISH with `on_publish`.
fake_server::handler topic_server(
    std::function<void(fake_server&, uint64_t, const protocol::publish_request&)> on_publish) {
    return [on_publish](fake_server& s, const protocol::frame& f) {
        std::string out;
        if (f.header.type == protocol::message_type::describe_topic) {
            protocol::topic_detail d;
            d.settings.name = std::string(protocol::decode_topic_name(f.body)->name);
            d.settings.partitions = topic_partitions;
            protocol::encode(out, f.header.request_id, d);
            s.reply(out);
        } else if (f.header.type == protocol::message_type::publish) {
            on_publish(s, f.header.request_id, *protocol::decode_publish(f.body));
        }
    };
}

void ack(fake_server& s, uint64_t id, const protocol::publish_request& p, uint64_t base,
         bool duplicate = false) {
    std::string out;
    protocol::publish_ack a;
    a.batches.push_back(
        protocol::batch_ack{*p.partition, base, uint32_t(p.events.size()), duplicate});
    protocol::encode(out, id, a);
    s.reply(out);
}

producer_options options_for(const fake_server& s) {
    producer_options o;
    o.connection.server = s.address();
    o.connection.reconnect_backoff_initial_ms = 10;
    o.connection.idle_ping_ms = 0;
    o.linger_ms = 1;
    o.retry_backoff_initial_ms = 5;
    o.retry_backoff_max_ms = 20;
    o.delivery_timeout_ms = 10000;
    return o;
}

eventstream::event keyless(std::string v) {
    eventstream::event e;
    e.value = std::move(v);
    return e;
}

TEST(producer, retries_a_retryable_error_with_the_same_sequence) {
    std::vector<uint64_t> sequences;
    std::vector<uint64_t> producer_ids;
    std::atomic<int> publishes{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            sequences.push_back(p.first_sequence);
            producer_ids.push_back(p.producer_id);
            if (publishes++ == 0) {
                std::string out;
                protocol::encode(out, id, protocol::error_reply{4, true, "queue full"});
                s.reply(out);
            } else {
                ack(s, id, p, 100);
            }
        }));
    auto o = options_for(server);
    o.idempotent = true;
    auto p = producer::create(o);
    ASSERT_TRUE(p) << p.err().to_string();
    EXPECT_NE((*p)->producer_id(), 0u);
    auto f = (*p)->send_future("t", keyless("a"), 2u);
    auto r = f.get();
    ASSERT_TRUE(r) << r.err().to_string();
    EXPECT_EQ(r->partition, 2u);
    EXPECT_EQ(r->offset, 100);
    ASSERT_EQ(sequences.size(), 2u);
    EXPECT_EQ(sequences[0], sequences[1]);
    EXPECT_EQ(producer_ids[0], (*p)->producer_id());
    EXPECT_EQ(producer_ids[1], (*p)->producer_id());
}

TEST(producer, a_non_retryable_error_is_reported_without_retry) {
    std::atomic<int> publishes{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request&) {
            ++publishes;
            std::string out;
            protocol::encode(out, id, protocol::error_reply{5, false, "too big"});
            s.reply(out);
        }));
    auto p = producer::create(options_for(server));
    ASSERT_TRUE(p);
    auto r = (*p)->send_future("t", keyless("a")).get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, eventstream::error_code::too_large);
    EXPECT_EQ(publishes.load(), 1);
}

// The node takes an idempotent partition's batches only in sequence order per producer id (a
// new id may start anywhere). After a batch fails for good its sequence numbers leave a gap,
// so the partition goes on under a fresh id rather than be refused for ever after.
TEST(producer, an_idempotent_partition_goes_on_after_a_batch_fails_for_good) {
    std::mutex mu;
    std::map<uint64_t, uint64_t> expected;  // producer id -> next sequence, as the node keeps
    std::vector<std::pair<uint64_t, uint64_t>> sent;  // producer id, first sequence
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            std::lock_guard lk(mu);
            sent.emplace_back(p.producer_id, p.first_sequence);
            std::string out;
            if (sent.size() == 1) {  // the first batch is refused for good
                protocol::encode(out, id, protocol::error_reply{5, false, "refused"});
                s.reply(out);
                return;
            }
            auto it = expected.find(p.producer_id);
            if (it != expected.end() && it->second != p.first_sequence) {
                protocol::encode(out, id, protocol::error_reply{5, false, "out of order"});
                s.reply(out);
                return;
            }
            expected[p.producer_id] = p.first_sequence + p.events.size();
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.idempotent = true;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    EXPECT_FALSE((*p)->send_future("t", keyless("a"), 0u).get());
    for (const char* v : {"b", "c"}) {
        auto r = (*p)->send_future("t", keyless(v), 0u).get();
        ASSERT_TRUE(r) << v << ": " << r.err().to_string();
    }
    std::lock_guard lk(mu);
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0].first, (*p)->producer_id());
    EXPECT_NE(sent[1].first, sent[0].first);  // a fresh id after the failure ...
    EXPECT_EQ(sent[2].first, sent[1].first);  // ... kept from then on
    EXPECT_EQ(sent[1].second, 1u);            // numbering goes on
    EXPECT_EQ(sent[2].second, 2u);
}

TEST(producer, a_lost_connection_is_retried_and_order_kept) {
    std::mutex mu;
    std::vector<std::string> appended;  // values in the order the fake "appended" them
    std::atomic<int> publishes{0};
    uint64_t next_offset = 0;
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            if (publishes++ == 0) {  // the first batch is lost with the connection
                s.drop_connection();
                return;
            }
            std::lock_guard lk(mu);
            for (const auto& e : p.events) appended.emplace_back(e.payload);
            ack(s, id, p, next_offset);
            next_offset += p.events.size();
        }));
    auto o = options_for(server);
    o.batch_events_max = 2;
    o.idempotent = true;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    std::vector<std::future<eventstream::delivery_result>> fs;
    for (int i = 0; i < 6; ++i)
        fs.push_back((*p)->send_future("t", keyless(std::to_string(i)), 1u));
    for (int i = 0; i < 6; ++i) {
        auto r = fs[i].get();
        ASSERT_TRUE(r) << i << ": " << r.err().to_string();
        EXPECT_EQ(r->offset, i);
    }
    std::lock_guard lk(mu);
    EXPECT_EQ(appended, (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
    EXPECT_GE(server.connections(), 2);
}

TEST(producer, linger_gathers_events_into_one_publish) {
    std::atomic<int> publishes{0};
    std::atomic<size_t> events{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            ++publishes;
            events += p.events.size();
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.linger_ms = 200;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    std::vector<std::future<eventstream::delivery_result>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back((*p)->send_future("t", keyless("x"), 0u));
    for (auto& f : fs) ASSERT_TRUE(f.get());
    EXPECT_EQ(publishes.load(), 1);
    EXPECT_EQ(events.load(), 5u);
}

// Batches are handed to the connection by whichever thread made them ready: the sending
// threads (full batches), the I/O thread (an ack frees the partition) and the sender (lingers).
// Whatever the mix, a partition's batches must reach the server in the order they were sealed:
// with idempotence, each PUBLISH starts its sequence where the one before it ended, and each
// sending thread's events arrive in the order it sent them.
TEST(producer, batches_from_several_sending_threads_reach_the_server_in_sequence) {
    constexpr int threads = 6;
    constexpr int per_thread = 2000;
    std::mutex mu;
    std::vector<std::pair<uint64_t, size_t>> publishes;  // first_sequence, events
    std::vector<std::string> values;
    uint64_t next_offset = 0;
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            std::lock_guard lk(mu);
            publishes.emplace_back(p.first_sequence, p.events.size());
            for (const auto& e : p.events) values.emplace_back(e.payload);
            ack(s, id, p, next_offset);
            next_offset += p.events.size();
        }));
    auto o = options_for(server);
    o.idempotent = true;
    // Mostly one-event batches, sealed and sent by the sending threads at once (many may be
    // out), some by the I/O thread or the sender: the most hand-overs that could reorder.
    o.batch_events_max = 2;
    o.max_in_flight_per_partition = 64;
    o.linger_ms = 0.05;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    std::vector<std::thread> senders;
    std::atomic<int> failed{0};
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                auto v = std::to_string(t) + ":" + std::to_string(i);
                if (!(*p)->send(
                        "t", keyless(std::move(v)),
                        [&](const auto& r) {
                            if (!r) ++failed;
                        },
                        2u))
                    ++failed;
            }
        });
    }
    for (auto& t : senders) t.join();
    ASSERT_TRUE((*p)->flush(10000));
    EXPECT_EQ(failed.load(), 0);
    std::lock_guard lk(mu);
    ASSERT_EQ(values.size(), size_t(threads * per_thread));
    uint64_t expected_sequence = 0;
    for (const auto& [first, count] : publishes) {
        ASSERT_EQ(first, expected_sequence) << "a PUBLISH overtook the one before it";
        expected_sequence += count;
    }
    std::vector<int> next(threads, 0);
    for (const auto& v : values) {
        const int t = std::stoi(v.substr(0, v.find(':')));
        const int i = std::stoi(v.substr(v.find(':') + 1));
        ASSERT_EQ(i, next[t]) << "thread " << t << "'s events out of order";
        ++next[t];
    }
}

// With send_when_idle, the batch that gathered while one was out goes as soon as the ack
// comes (sent from the I/O thread), not at the end of its linger.
TEST(producer, an_ack_sends_the_batch_gathered_meanwhile_without_waiting_its_linger) {
    std::mutex mu;
    std::vector<size_t> sizes;
    std::promise<void> first_arrived;
    std::promise<void> release_first;
    auto released = release_first.get_future().share();
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            bool first = false;
            {
                std::lock_guard lk(mu);
                sizes.push_back(p.events.size());
                first = sizes.size() == 1;
            }
            if (first) {
                first_arrived.set_value();
                released.wait();  // holds the ack while the producer gathers the next batch
            }
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.linger_ms = 60000;
    o.send_when_idle = true;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    auto f1 = (*p)->send_future("t", keyless("a"), 0u);
    ASSERT_EQ(first_arrived.get_future().wait_for(std::chrono::seconds(5)),
              std::future_status::ready);
    auto f2 = (*p)->send_future("t", keyless("b"), 0u);
    auto f3 = (*p)->send_future("t", keyless("c"), 0u);
    release_first.set_value();
    ASSERT_EQ(f3.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_TRUE(f1.get());
    EXPECT_TRUE(f2.get());
    EXPECT_TRUE(f3.get());
    std::lock_guard lk(mu);
    EXPECT_EQ(sizes, (std::vector<size_t>{1, 2}));
}

// flush() sends a batch whose linger is far off at once, many times over: the sender may be
// asleep until the linger or just deciding to sleep when the flush comes.
TEST(producer, flush_sends_a_lingering_batch_at_once) {
    std::atomic<int> events{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            events += int(p.events.size());
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.linger_ms = 600000;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    for (int i = 0; i < 200; ++i) {
        auto f = (*p)->send_future("t", keyless("x"), uint32_t(i % topic_partitions));
        ASSERT_TRUE((*p)->flush(5000)) << "round " << i;
        ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
        ASSERT_TRUE(f.get());
    }
    EXPECT_EQ(events.load(), 200);
}

// A duplicate whose offset the partition no longer remembers is reported with offset -1
// (as Kafka does), not with the 0 its ack carries.
TEST(producer, a_duplicate_whose_offset_is_forgotten_reports_offset_minus_one) {
    fake_server server(
        topic_server([](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            std::string out;
            protocol::publish_ack a;
            const uint32_t n = uint32_t(p.events.size());
            a.batches.push_back(protocol::batch_ack{*p.partition, 40, 1, true});
            a.batches.push_back(protocol::batch_ack{*p.partition, 0, n - 1, true, false});
            protocol::encode(out, id, a);
            s.reply(out);
        }));
    auto o = options_for(server);
    o.idempotent = true;
    o.linger_ms = 600000;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    std::vector<std::future<eventstream::delivery_result>> fs;
    for (int i = 0; i < 3; ++i) fs.push_back((*p)->send_future("t", keyless("x"), 1u));
    ASSERT_TRUE((*p)->flush(5000));
    std::vector<int64_t> offsets;
    for (auto& f : fs) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.err().to_string();
        EXPECT_TRUE(r->duplicate);
        offsets.push_back(r->offset);
    }
    EXPECT_EQ(offsets, (std::vector<int64_t>{40, -1, -1}));
}

// A close() that comes while another thread's close() is flushing waits for it: when it
// returns, every event has been reported, and the producer may be destroyed.
TEST(producer, a_close_during_another_threads_close_returns_after_it) {
    // The server never answers a PUBLISH: the first close() flushes until its time-out.
    fake_server server(
        topic_server([](fake_server&, uint64_t, const protocol::publish_request&) {}));
    auto p = producer::create(options_for(server));
    ASSERT_TRUE(p);
    std::atomic<int> reported{0};
    std::atomic<bool> closed_error{false};
    ASSERT_TRUE((*p)->send(
        "t", keyless("x"),
        [&](const eventstream::delivery_result& r) {
            closed_error = !r && r.err().code == eventstream::error_code::closed;
            ++reported;
        },
        0u));
    ASSERT_TRUE(server.wait_for([](const auto& frames) {
        for (const auto& f : frames)
            if (f.first == protocol::message_type::publish) return true;
        return false;
    }));
    const auto started = std::chrono::steady_clock::now();
    std::thread first([&] { (void)(*p)->close(800); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the first is flushing
    ASSERT_TRUE((*p)->close(0));
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(reported.load(), 1) << "the second close() returned before the event was reported";
    EXPECT_TRUE(closed_error.load());
    EXPECT_GE(waited, std::chrono::milliseconds(700));
    first.join();
    p->reset();  // destroyed right after: nothing of the first close() may still run
    EXPECT_EQ(reported.load(), 1);
}

// A delivery callback that closes the producer, while a close() is failing the events: it
// returns at once instead of waiting for the close that is running it.
TEST(producer, a_close_from_a_delivery_callback_during_close_returns) {
    fake_server server(
        topic_server([](fake_server&, uint64_t, const protocol::publish_request&) {}));
    auto p = producer::create(options_for(server));
    ASSERT_TRUE(p);
    eventstream::producer* raw = p->get();
    std::atomic<int> reported{0};
    std::atomic<int> inner_closes{0};
    auto cb = [&](const eventstream::delivery_result&) {
        ASSERT_TRUE(raw->close(0));
        ++inner_closes;
        ++reported;
    };
    // In flight when the close comes: failed on the I/O thread, which the close joins.
    ASSERT_TRUE((*p)->send("t", keyless("in flight"), cb, 0u));
    ASSERT_TRUE(server.wait_for([](const auto& frames) {
        for (const auto& f : frames)
            if (f.first == protocol::message_type::publish) return true;
        return false;
    }));
    const auto closed = (*p)->close(50);
    ASSERT_FALSE(closed);
    EXPECT_EQ(closed.err().code, eventstream::error_code::timed_out);
    EXPECT_EQ(reported.load(), 1);
    EXPECT_EQ(inner_closes.load(), 1);
}

TEST(producer, a_close_from_a_delivery_callback_closes_without_waiting) {
    // The server acks partition 0's batches and never answers partition 1's.
    fake_server server(
        topic_server([](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            if (*p.partition == 0) ack(s, id, p, 7);
        }));
    auto o = options_for(server);
    o.linger_ms = 0;
    o.max_in_flight_per_partition = 1;  // partition 1's second batch waits for its first
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    eventstream::producer* raw = p->get();
    std::mutex mu;
    std::vector<std::string> reports;  // in the order reported
    std::promise<void> both_reported;
    auto on_partition_1 = [&](std::string name) {
        return [&, name](const eventstream::delivery_result& r) {
            EXPECT_FALSE(r);
            if (!r) EXPECT_EQ(r.err().code, eventstream::error_code::closed) << name;
            std::lock_guard lk(mu);
            reports.push_back(name);
            if (reports.size() == 3) both_reported.set_value();
        };
    };
    ASSERT_TRUE((*p)->send("t", keyless("in flight"), on_partition_1("in flight"), 1u));
    ASSERT_TRUE(server.wait_for([](const auto& frames) {
        for (const auto& f : frames)
            if (f.first == protocol::message_type::publish) return true;
        return false;
    }));
    ASSERT_TRUE((*p)->send("t", keyless("unsent"), on_partition_1("unsent"), 1u));
    ASSERT_TRUE((*p)->send(
        "t", keyless("acked"),
        [&](const eventstream::delivery_result& r) {
            EXPECT_TRUE(r);
            // On the I/O thread, with no close running: it cannot wait for answers it would
            // read itself, so it closes without waiting (and does not end the process).
            EXPECT_TRUE(raw->close());
            std::lock_guard lk(mu);
            reports.push_back("callback returns");
        },
        0u));
    auto reported = both_reported.get_future();
    ASSERT_EQ(reported.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    {
        // After the callback, partition 1's batches in their order.
        std::lock_guard lk(mu);
        EXPECT_EQ(reports, (std::vector<std::string>{"callback returns", "in flight", "unsent"}));
    }
    const auto after = (*p)->send("t", keyless("late"), [](const eventstream::delivery_result&) {});
    ASSERT_FALSE(after);
    EXPECT_EQ(after.err().code, eventstream::error_code::closed);
    EXPECT_TRUE((*p)->close());  // finishes: joins the I/O thread the callback could not
    p->reset();
}

TEST(producer, keys_go_to_the_servers_partition) {
    std::mutex mu;
    std::vector<std::pair<std::string, uint32_t>> seen;  // key, partition
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            {
                std::lock_guard lk(mu);
                for (const auto& e : p.events) seen.emplace_back(std::string(e.key), *p.partition);
            }
            ack(s, id, p, 0);
        }));
    auto p = producer::create(options_for(server));
    ASSERT_TRUE(p);
    for (int i = 0; i < 40; ++i) {
        eventstream::event e;
        e.key = "key-" + std::to_string(i);
        e.value = "v";
        ASSERT_TRUE((*p)->send("t", std::move(e), [](const eventstream::delivery_result&) {}));
    }
    ASSERT_TRUE((*p)->flush(5000));
    std::lock_guard lk(mu);
    ASSERT_EQ(seen.size(), 40u);
    for (const auto& [key, partition] : seen)
        EXPECT_EQ(partition, stable_hash(key) % topic_partitions) << key;
}

// send_copy reads the caller's bytes during the call only: the buffer is rewritten after each
// send, and the server still gets every event's own key, value, headers and timestamp.
TEST(producer, send_copy_takes_the_bytes_before_it_returns) {
    struct seen_event {
        bool has_key;
        std::string key, value;
        int64_t timestamp_ns;
        std::vector<std::pair<std::string, std::string>> headers;
    };
    std::mutex mu;
    std::vector<seen_event> seen;
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            {
                std::lock_guard lk(mu);
                for (const auto& e : p.events) {
                    seen_event x{
                        e.has_key, std::string(e.key), std::string(e.payload), e.timestamp_ns, {}};
                    for (uint32_t h = 0; h < e.header_count; ++h) {
                        const auto& wh = p.headers[e.first_header + h];
                        x.headers.emplace_back(std::string(wh.name), std::string(wh.value));
                    }
                    seen.push_back(std::move(x));
                }
            }
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.linger_ms = 50;  // the events wait in one batch while the buffers are rewritten
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    auto label = [](std::string prefix, int i) {
        prefix += std::to_string(i);
        return prefix;
    };
    std::string key, value;
    std::vector<eventstream::header> headers(1);
    for (int i = 0; i < 10; ++i) {
        key = label("key-", i);
        value = label("value-", i);
        headers[0] = {"n", std::to_string(i)};
        eventstream::event_view e;
        if (i % 2 == 0) e.key = key;
        e.value = value;
        e.headers = headers;
        e.timestamp_ns = 1000 + i;
        ASSERT_TRUE((*p)->send_copy(
            "t", e, [](const eventstream::delivery_result&) {}, 0u));
    }
    ASSERT_TRUE((*p)->flush(5000));
    std::lock_guard lk(mu);
    ASSERT_EQ(seen.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(seen[i].has_key, i % 2 == 0);
        if (i % 2 == 0) {
            EXPECT_EQ(seen[i].key, label("key-", i));
        }
        EXPECT_EQ(seen[i].value, label("value-", i));
        EXPECT_EQ(seen[i].timestamp_ns, 1000 + i);
        ASSERT_EQ(seen[i].headers.size(), 1u);
        EXPECT_EQ(seen[i].headers[0].first, "n");
        EXPECT_EQ(seen[i].headers[0].second, std::to_string(i));
    }
}

TEST(producer, a_full_buffer_fails_send_when_not_blocking) {
    fake_server server(topic_server([](fake_server&, uint64_t, const protocol::publish_request&) {
        // never acknowledges
    }));
    auto o = options_for(server);
    o.batch_bytes_max = 1024;
    o.buffer_bytes_max = 1024;
    o.block_when_full = false;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    eventstream::status last;
    for (int i = 0; i < 100 && last; ++i)
        last = (*p)->send(
            "t", keyless(std::string(100, 'x')), [](const auto&) {}, 0u);
    ASSERT_FALSE(last);
    EXPECT_EQ(last.err().code, eventstream::error_code::queue_full);
}

TEST(producer, a_linger_with_a_fraction_of_a_millisecond_holds_the_batch_that_long) {
    std::atomic<int> publishes{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            ++publishes;
            ack(s, id, p, 0);
        }));
    auto o = options_for(server);
    o.linger_ms = 60.5;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<eventstream::delivery_result>> fs;
    for (int i = 0; i < 3; ++i) fs.push_back((*p)->send_future("t", keyless("x"), 0u));
    for (auto& f : fs) ASSERT_TRUE(f.get());
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(60500));
    EXPECT_EQ(publishes.load(), 1);
}

TEST(producer, a_linger_out_of_range_is_refused) {
    fake_server server(
        topic_server([](fake_server&, uint64_t, const protocol::publish_request&) {}));
    for (double bad : {-1.0, 900001.0, std::nan("")}) {
        auto o = options_for(server);
        o.linger_ms = bad;
        auto p = producer::create(o);
        ASSERT_FALSE(p) << bad;
        EXPECT_EQ(p.err().code, eventstream::error_code::invalid_argument);
    }
}

TEST(producer, an_event_larger_than_a_batch_is_refused) {
    fake_server server(
        topic_server([](fake_server&, uint64_t, const protocol::publish_request&) {}));
    auto o = options_for(server);
    o.batch_bytes_max = 1024;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    auto s = (*p)->send("t", keyless(std::string(2000, 'x')), [](const auto&) {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::too_large);
}

// Headers the node would refuse are refused at send(), for that event alone (and never reach
// the encoder, which cannot write a name over 65 535 bytes).
TEST(producer, headers_over_the_limits_are_refused_at_send) {
    std::atomic<int> events{0};
    fake_server server(
        topic_server([&](fake_server& s, uint64_t id, const protocol::publish_request& p) {
            events += int(p.events.size());
            ack(s, id, p, 0);
        }));
    auto p = producer::create(options_for(server));
    ASSERT_TRUE(p);
    auto with_headers = [](std::vector<eventstream::header> headers) {
        eventstream::event e = keyless("v");
        e.headers = std::move(headers);
        return e;
    };
    const auto none = [](const auto&) {};
    auto s = (*p)->send("t", with_headers({{std::string(256, 'n'), "v"}}), none);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::invalid_argument);
    s = (*p)->send("t", with_headers({{std::string(70000, 'n'), "v"}}), none);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::invalid_argument);
    s = (*p)->send(
        "t", with_headers({{"a", std::string(40000, 'v')}, {"b", std::string(40000, 'v')}}), none);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::invalid_argument);
    // At the limits: accepted.
    ASSERT_TRUE(
        (*p)->send("t", with_headers({{std::string(255, 'n'), std::string(65274, 'v')}}), none));
    ASSERT_TRUE((*p)->flush(5000));
    EXPECT_EQ(events.load(), 1);
}

}  // namespace
}  // namespace es::client
