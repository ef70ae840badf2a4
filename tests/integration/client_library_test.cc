// The C++ client library against the real eventstream binary: round trip, order, keyed routing
// as the server's, consumer groups with commits and resume, flow control with a tiny credit
// window, and an idempotent producer's retry of a batch whose ack was lost (through a proxy
// that cuts the connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/hash.h"
#include "protocol/codec.h"
#include "tests/integration/client_test_util.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

using eventstream::consumer;
using eventstream::consumer_options;
using eventstream::producer;
using eventstream::producer_options;
using eventstream::start_position;

class client_library : public client_fixture {
  protected:
    producer_options producer_opts() {
        producer_options o;
        o.connection = connection();
        o.linger_ms = 2;
        return o;
    }
    consumer_options consumer_opts(start_position start = start_position::earliest()) {
        consumer_options o;
        o.connection = connection();
        o.start = start;
        return o;
    }

    // Polls until `n` events came (gaps are not expected here) or 10 s pass.
    std::vector<eventstream::consumer_record> take(consumer& c, size_t n) {
        std::vector<eventstream::consumer_record> out;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (out.size() < n && std::chrono::steady_clock::now() < until) {
            auto r = c.poll(100);
            EXPECT_TRUE(r) << r.err().to_string();
            if (!r) break;
            if (*r) {
                EXPECT_EQ((*r)->kind, eventstream::record_kind::event);
                out.push_back(std::move(**r));
            }
        }
        return out;
    }
};

eventstream::event keyed(std::string key, std::string value) {
    eventstream::event e;
    e.key = std::move(key);
    e.value = std::move(value);
    return e;
}

TEST_F(client_library, round_trip_keeps_keys_values_headers_and_per_key_order) {
    create_topic("orders", 3);
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p) << p.err().to_string();
    std::vector<std::future<eventstream::delivery_result>> acks;
    for (int i = 0; i < 300; ++i) {
        auto e = keyed("k" + std::to_string(i % 10), std::to_string(i));
        e.headers.push_back({"n", std::to_string(i)});
        acks.push_back((*p)->send_future("orders", std::move(e)));
    }
    for (auto& f : acks) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.err().to_string();
        EXPECT_GE(r->offset, 0);
    }
    auto c = consumer::create(consumer_opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("orders"));
    auto got = take(**c, 300);
    ASSERT_EQ(got.size(), 300u);
    std::map<std::string, int> last_of_key;
    std::map<uint32_t, int64_t> last_offset;
    for (const auto& r : got) {
        ASSERT_TRUE(r.key);
        const int v = std::stoi(r.value);
        EXPECT_EQ(*r.key, "k" + std::to_string(v % 10));
        ASSERT_EQ(r.headers.size(), 1u);
        EXPECT_EQ(r.headers[0].value, r.value);
        EXPECT_EQ(r.partition, stable_hash(*r.key) % 3);
        if (last_of_key.count(*r.key)) {
            EXPECT_GT(v, last_of_key[*r.key]);
        }
        last_of_key[*r.key] = v;
        if (last_offset.count(r.partition)) {
            EXPECT_EQ(int64_t(r.offset), last_offset[r.partition] + 1);
        }
        last_offset[r.partition] = int64_t(r.offset);
        EXPECT_GT(r.timestamp_ns, 0);
    }
    expect_node_alive();
}

TEST_F(client_library, keys_land_where_the_server_routes_them) {
    create_topic("routes", 5);
    // The server routes keys of an HTTP publish itself; the client must agree.
    std::map<std::string, uint32_t> server_partition;
    for (int i = 0; i < 20; ++i) {
        const std::string key = "user-" + std::to_string(i);
        auto reply = http_call(ports_.http, "POST", "/v1/events",
                               R"({"topic":"routes","key":")" + key + R"(","payload":1})");
        ASSERT_TRUE(reply) << reply.err().message;
        ASSERT_EQ(reply->status, 201) << reply->body;
        server_partition[key] = nlohmann::json::parse(reply->body)["partition"].get<uint32_t>();
    }
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    for (const auto& [key, partition] : server_partition) {
        auto r = (*p)->send_future("routes", keyed(key, "2")).get();
        ASSERT_TRUE(r) << r.err().to_string();
        EXPECT_EQ(r->partition, partition) << key;
    }
}

// With send_when_idle a partition with nothing out sends at once: the first event is acked
// long before a one-minute linger, and so are the ones after it, each time the partition is
// idle again.
TEST_F(client_library, send_when_idle_does_not_wait_out_the_linger) {
    create_topic("idle", 1);
    auto o = producer_opts();
    o.linger_ms = 60000;
    o.send_when_idle = true;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    auto first = (*p)->send_future("idle", keyed("", "first"));
    ASSERT_EQ(first.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    auto r = first.get();
    ASSERT_TRUE(r) << r.err().to_string();
    EXPECT_EQ(r->offset, 0);
    std::vector<std::future<eventstream::delivery_result>> more;
    for (int i = 0; i < 3; ++i) more.push_back((*p)->send_future("idle", keyed("", "m")));
    for (auto& f : more) {
        ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
        ASSERT_TRUE(f.get());
    }
    // Without it, the same producer options wait the linger: nothing is acked in a second.
    o.send_when_idle = false;
    auto lingering = producer::create(o);
    ASSERT_TRUE(lingering);
    auto held = (*lingering)->send_future("idle", keyed("", "held"));
    EXPECT_EQ(held.wait_for(std::chrono::seconds(1)), std::future_status::timeout);
    ASSERT_TRUE((*lingering)->flush(20000));
    ASSERT_EQ(held.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    EXPECT_TRUE(held.get());
}

TEST_F(client_library, one_partition_keeps_send_order_across_many_batches) {
    create_topic("seq", 1);
    auto o = producer_opts();
    o.batch_events_max = 64;
    auto p = producer::create(o);
    ASSERT_TRUE(p);
    std::atomic<int> failed{0};
    for (int i = 0; i < 5000; ++i) {
        eventstream::event e;
        e.value = std::to_string(i);
        ASSERT_TRUE((*p)->send("seq", std::move(e), [&](const eventstream::delivery_result& r) {
            if (!r) ++failed;
        }));
    }
    ASSERT_TRUE((*p)->flush(30000));
    EXPECT_EQ(failed.load(), 0);
    auto c = consumer::create(consumer_opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("seq"));
    auto got = take(**c, 5000);
    ASSERT_EQ(got.size(), 5000u);
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].offset, i);
        EXPECT_EQ(got[i].value, std::to_string(i));
    }
}

TEST_F(client_library, group_members_share_partitions_and_resume_from_commits) {
    create_topic("grp", 4, eventstream::storage_kind::durable);
    {
        auto p = producer::create(producer_opts());
        ASSERT_TRUE(p);
        for (int i = 0; i < 400; ++i) (void)(*p)->send_future("grp", keyed(std::to_string(i), "v"));
        ASSERT_TRUE((*p)->flush(30000));
    }
    auto member = [&](uint32_t index) {
        auto o = consumer_opts(start_position::committed(start_position::kind::earliest));
        o.group = "g1";
        o.member_index = index;
        o.member_count = 2;
        o.auto_commit = false;
        return o;
    };
    // Each member reads half of its share and commits.
    std::set<std::pair<uint32_t, uint64_t>> seen;
    std::map<uint32_t, size_t> share;  // member -> events in its partitions
    for (uint32_t m = 0; m < 2; ++m) {
        auto c = consumer::create(member(m));
        ASSERT_TRUE(c) << c.err().to_string();
        ASSERT_TRUE((*c)->subscribe("grp"));
        for (uint32_t p : (*c)->assignment()) EXPECT_EQ(p % 2, m);
        auto got = take(**c, 100);
        ASSERT_EQ(got.size(), 100u);
        for (const auto& r : got) {
            EXPECT_EQ(r.partition % 2, m);
            EXPECT_TRUE(seen.insert({r.partition, r.offset}).second);
        }
        auto s = (*c)->commit_sync();
        ASSERT_TRUE(s) << s.err().to_string();
        for (const auto& [p, next] : (*c)->positions()) {
            auto committed = (*c)->committed(p);
            ASSERT_TRUE(committed);
            EXPECT_EQ(*committed, std::optional<uint64_t>(next));
        }
        ASSERT_TRUE((*c)->close());
    }
    // Restarted members resume after their commits: the rest, nothing twice.
    for (uint32_t m = 0; m < 2; ++m) {
        auto c = consumer::create(member(m));
        ASSERT_TRUE(c);
        ASSERT_TRUE((*c)->subscribe("grp"));
        for (;;) {
            auto r = (*c)->poll(1000);
            ASSERT_TRUE(r);
            if (!*r) break;
            EXPECT_TRUE(seen.insert({(*r)->partition, (*r)->offset}).second)
                << "partition " << (*r)->partition << " offset " << (*r)->offset << " twice";
        }
    }
    EXPECT_EQ(seen.size(), 400u);
    expect_node_alive();
}

TEST_F(client_library, a_tiny_credit_window_still_delivers_everything) {
    create_topic("credit", 1);
    auto o = consumer_opts();
    o.credit_events = 2;
    o.credit_bytes = 256;
    auto c = consumer::create(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("credit"));
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    for (int i = 0; i < 1000; ++i) {
        eventstream::event e;
        e.value = std::string(100, 'a' + i % 26);
        (void)(*p)->send_future("credit", std::move(e));
    }
    ASSERT_TRUE((*p)->flush(30000));
    auto got = take(**c, 1000);
    ASSERT_EQ(got.size(), 1000u);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].offset, i);
}

TEST_F(client_library, batch_poll_hands_out_events_in_order_up_to_its_cap) {
    create_topic("many", 1);
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    for (int i = 0; i < 1000; ++i) {
        eventstream::event e;
        e.value = std::to_string(i);
        (void)(*p)->send_future("many", std::move(e));
    }
    ASSERT_TRUE((*p)->flush(30000));
    auto c = consumer::create(consumer_opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("many"));
    std::vector<eventstream::consumer_record> records;
    EXPECT_EQ((*c)->poll(records, 0, 100).err().code, eventstream::error_code::invalid_argument);
    uint64_t next = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (next < 1000 && std::chrono::steady_clock::now() < until) {
        auto n = (*c)->poll(records, 64, 100);
        ASSERT_TRUE(n) << n.err().to_string();
        ASSERT_EQ(records.size(), *n);
        EXPECT_LE(*n, 64u);
        for (const auto& r : records) {
            ASSERT_EQ(r.kind, eventstream::record_kind::event);
            ASSERT_EQ(r.offset, next);
            ASSERT_EQ(r.value, std::to_string(next));
            ++next;
        }
    }
    EXPECT_EQ(next, 1000u);
    // Nothing more: the poll waits its time and hands out nothing.
    auto none = (*c)->poll(records, 64, 50);
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, 0u);
    EXPECT_TRUE(records.empty());
    EXPECT_EQ((*c)->positions().at(0), 1000u);
}

TEST_F(client_library, an_auto_commit_covers_only_what_earlier_polls_handed_out) {
    create_topic("ac", 1, eventstream::storage_kind::durable);
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    for (int i = 0; i < 10; ++i) (void)(*p)->send_future("ac", keyed("k", std::to_string(i)));
    ASSERT_TRUE((*p)->flush(30000));
    auto o = consumer_opts(start_position::committed(start_position::kind::earliest));
    o.group = "g-ac";
    o.auto_commit_interval_ms = 1;
    auto c = consumer::create(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("ac"));
    std::vector<eventstream::consumer_record> records;
    auto n = (*c)->poll(records, 4, 5000);
    ASSERT_TRUE(n && *n > 0) << (n ? "none" : n.err().to_string());
    const uint64_t first_batch = *n;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // This poll is past the interval: it commits the first batch's end, not its own.
    n = (*c)->poll(records, 4, 5000);
    ASSERT_TRUE(n && *n > 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::optional<uint64_t> committed;
    while (std::chrono::steady_clock::now() < until) {
        auto got = (*c)->committed(0);
        ASSERT_TRUE(got) << got.err().to_string();
        committed = *got;
        if (committed) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(committed);
    EXPECT_EQ(*committed, first_batch);
}

TEST_F(client_library, callback_consumer_and_auto_commit_on_close) {
    create_topic("cb", 2, eventstream::storage_kind::durable);
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    for (int i = 0; i < 50; ++i) (void)(*p)->send_future("cb", keyed(std::to_string(i), "x"));
    ASSERT_TRUE((*p)->flush(30000));
    auto o = consumer_opts(start_position::committed(start_position::kind::earliest));
    o.group = "g-cb";
    auto c = consumer::create(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("cb"));
    std::atomic<int> n{0};
    ASSERT_TRUE((*c)->start([&](const eventstream::consumer_record&) { ++n; }));
    for (int i = 0; i < 200 && n.load() < 50; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    EXPECT_EQ(n.load(), 50);
    ASSERT_TRUE((*c)->close());
    auto again = consumer::create(o);
    ASSERT_TRUE(again);
    ASSERT_TRUE((*again)->subscribe("cb"));
    auto r = (*again)->poll(500);
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r) << "offset " << (*r)->offset << " was committed and came again";
}

TEST_F(client_library, admin_topic_lifecycle_and_errors) {
    auto a = admin();
    ASSERT_NE(a, nullptr);
    eventstream::topic_config c;
    c.name = "adm";
    c.partitions = 2;
    ASSERT_TRUE(a->create_topic(c));
    auto dup = a->create_topic(c);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.err().code, eventstream::error_code::already_exists);
    c.name = "bad name!";
    auto bad = a->create_topic(c);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().code, eventstream::error_code::invalid_argument);
    auto d = a->describe_topic("adm");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->partitions.size(), 2u);
    auto m = a->metadata({"adm"});
    ASSERT_TRUE(m) << m.err().to_string();
    ASSERT_EQ(m->topics.size(), 1u);
    EXPECT_EQ(m->topics[0].leader_by_partition.size(), 2u);
    ASSERT_TRUE(a->delete_topic("adm"));
    auto gone = a->describe_topic("adm");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.err().code, eventstream::error_code::not_found);
    // Sending to a topic that does not exist fails in send().
    auto p = producer::create(producer_opts());
    ASSERT_TRUE(p);
    auto s = (*p)->send("adm", keyed("k", "v"), [](const auto&) {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, eventstream::error_code::not_found);
}

// A TCP proxy in front of the node that cuts the first connection just after the server's
// first PUBLISH_ACK comes, without passing the ack on: the batch is appended but the producer
// never hears of it.
class ack_cutting_proxy {
  public:
    explicit ack_cutting_proxy(uint16_t target) : target_(target) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listen_fd_, 4);
        socklen_t len = sizeof a;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~ack_cutting_proxy() {
        stop_ = true;
        thread_.join();
        ::close(listen_fd_);
    }
    uint16_t port() const { return port_; }
    int cuts() const { return cuts_.load(); }

  private:
    void run() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int client = ::accept(listen_fd_, nullptr, nullptr);
            if (client < 0) continue;
            const int server = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(target_);
            if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                ::close(client);
                ::close(server);
                continue;
            }
            pump(client, server);
            ::close(client);
            ::close(server);
        }
    }

    void pump(int client, int server) {
        protocol::frame_reader from_server(protocol::max_frame_bytes_limit);
        char buf[65536];
        while (!stop_) {
            pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
            if (::poll(p, 2, 50) <= 0) continue;
            if (p[0].revents) {
                const ssize_t n = ::read(client, buf, sizeof buf);
                if (n <= 0 || ::send(server, buf, size_t(n), MSG_NOSIGNAL) != n) return;
            }
            if (p[1].revents) {
                const ssize_t n = ::read(server, buf, sizeof buf);
                if (n <= 0) return;
                if (cuts_ == 0) {
                    from_server.feed(std::string_view(buf, size_t(n)));
                    for (;;) {
                        auto f = from_server.next();
                        if (!f || !*f) break;
                        if ((*f)->header.type == protocol::message_type::publish_ack) {
                            ++cuts_;
                            return;  // the ack is not passed on
                        }
                    }
                }
                if (::send(client, buf, size_t(n), MSG_NOSIGNAL) != n) return;
            }
        }
    }

    uint16_t target_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> cuts_{0};
    std::thread thread_;
};

TEST_F(client_library, an_idempotent_retry_of_a_lost_ack_is_appended_once) {
    create_topic("idem", 1);
    ack_cutting_proxy proxy(ports_.native);
    auto o = producer_opts();
    o.connection.server = "127.0.0.1:" + std::to_string(proxy.port());
    o.idempotent = true;
    o.linger_ms = 50;  // the three events go in one batch
    auto p = producer::create(o);
    ASSERT_TRUE(p) << p.err().to_string();
    std::vector<std::future<eventstream::delivery_result>> fs;
    for (int i = 0; i < 3; ++i)
        fs.push_back((*p)->send_future("idem", keyed("k", std::to_string(i))));
    for (int i = 0; i < 3; ++i) {
        auto r = fs[i].get();
        ASSERT_TRUE(r) << r.err().to_string();
        EXPECT_EQ(r->offset, i);
        EXPECT_TRUE(r->duplicate);  // the retry was recognised
    }
    EXPECT_EQ(proxy.cuts(), 1);
    auto d = admin()->describe_topic("idem");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->partitions[0].end_offset, 3u);  // appended once
}

TEST_F(client_library, a_batch_the_node_appends_in_parts_reports_each_events_own_offset) {
    // A 3 MiB batch is more than the node appends as one (1 MiB, docs/protocol.md), so its
    // PUBLISH_ACK lists several parts; two producers send at once, so another's events may
    // land between them. Every event's reported offset must hold that event.
    for (const bool idempotent : {false, true}) {
        SCOPED_TRACE(idempotent ? "idempotent" : "plain");
        const std::string topic = idempotent ? "parts-idem" : "parts";
        create_topic(topic, 1);
        constexpr int per_producer = 2500;  // about 2.6 MiB of records each
        std::map<int64_t, std::string> reported;
        std::mutex mu;
        std::atomic<int> failed{0};
        auto run = [&](const std::string& name) {
            auto o = producer_opts();
            o.idempotent = idempotent;
            o.batch_bytes_max = 3 << 20;
            o.linger_ms = 60000;  // one batch, sent by flush()
            auto p = producer::create(o);
            ASSERT_TRUE(p) << p.err().to_string();
            for (int i = 0; i < per_producer; ++i) {
                eventstream::event e;
                e.value = name + std::to_string(i) + std::string(1000, '.');
                std::string value = e.value;
                ASSERT_TRUE((*p)->send(
                    topic, std::move(e),
                    [&, value = std::move(value)](const eventstream::delivery_result& r) {
                        std::lock_guard lk(mu);
                        if (!r || r->duplicate) {
                            ++failed;
                            ADD_FAILURE() << (r ? "duplicate" : r.err().to_string());
                            return;
                        }
                        EXPECT_TRUE(reported.emplace(r->offset, value).second) << r->offset;
                    }));
            }
            ASSERT_TRUE((*p)->flush(30000));
        };
        std::thread a([&] { run("a"); });
        std::thread b([&] { run("b"); });
        a.join();
        b.join();
        EXPECT_EQ(failed.load(), 0);
        ASSERT_EQ(reported.size(), size_t(2 * per_producer));

        auto c = consumer::create(consumer_opts());
        ASSERT_TRUE(c);
        ASSERT_TRUE((*c)->subscribe(topic));
        auto got = take(**c, 2 * per_producer);
        ASSERT_EQ(got.size(), size_t(2 * per_producer));
        for (const auto& r : got) {
            auto it = reported.find(r.offset);
            ASSERT_NE(it, reported.end()) << r.offset;
            EXPECT_EQ(it->second, r.value) << "offset " << r.offset;
        }
    }
}

}  // namespace
}  // namespace es::test
