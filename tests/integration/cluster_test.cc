// A 3-node cluster of real processes on loopback: an RF=3 durable topic, publishes with
// acks=all to the partition's leader, kill -9 of that leader, a new leader that takes
// publishes, and after the killed node's restart every acknowledged event present exactly once
// and in order on every replica. Also: an idempotent producer's state and a consumer group's
// committed offset survive the failover (both live in the partition's replicated state), and
// a replica down past the log's compaction catches up through a snapshot, group offset too.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.h"
#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"
#include "tests/integration/test_native_client.h"

namespace es::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* topic_name = "replicated";

class cluster_test : public server_process_fixture {
  protected:
    struct node {
        uint32_t id = 0;
        uint16_t cluster_port = 0;
        std::string data_dir;
        server_process* process = nullptr;
        server::ports_record ports;
    };

    void SetUp() override {
        server_process_fixture::SetUp();
        const auto cports = free_tcp_ports(3);
        std::string peers;
        for (uint32_t i = 0; i < 3; ++i) {
            nodes_[i].id = i + 1;
            nodes_[i].cluster_port = cports[i];
            nodes_[i].data_dir = fresh_path("node" + std::to_string(i + 1));
            peers +=
                (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(cports[i]);
        }
        peers_ = peers;
    }

    bool start(node& n) {
        server_launch l;
        l.flags["node_id"] = std::to_string(n.id);
        l.flags["cluster_port"] = std::to_string(n.cluster_port);
        l.flags["peers"] = peers_;
        l.flags["data_dir"] = n.data_dir;
        // One io thread (the default on 2 CPUs) on every machine: with two, a connection held
        // by a slow handler would leave the other thread free and hide it.
        l.flags["io_threads"] = "1";
        l.flags["raft_election_timeout_ms"] = "500";
        l.flags["raft_heartbeat_ms"] = "50";
        for (const auto& [name, value] : extra_flags_) l.flags[name] = value;
        n.process = start_ready(l, &n.ports);
        return n.process != nullptr;
    }

    // The first answer of `method target` that is not a "try elsewhere/later" (421, 503),
    // asking every running node in turn, within `timeout`.
    std::optional<http_reply> any_node(const std::string& method, const std::string& target,
                                       const std::string& body, std::chrono::seconds timeout,
                                       std::string* last = nullptr) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            for (node& n : nodes_) {
                if (n.process == nullptr) continue;
                auto r = http_call(n.ports.http, method, target, body);
                if (!r) continue;
                if (r->status != 421 && r->status != 503) return *r;
                if (last) *last = r->body;
            }
            std::this_thread::sleep_for(100ms);
        }
        return std::nullopt;
    }

    // The node that leads partition 0, as every running node agrees, within `timeout`.
    node* leader(std::chrono::seconds timeout, uint32_t not_this = 0) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            for (node& n : nodes_) {
                if (n.process == nullptr || n.id == not_this) continue;
                // The leader itself is the one that takes a publish.
                auto r =
                    http_call(n.ports.http, "POST", "/v1/events?acks=all",
                              json{{"topic", topic_name}, {"payload", {{"probe", true}}}}.dump());
                if (r && r->status == 201) return &n;
            }
            std::this_thread::sleep_for(100ms);
        }
        return nullptr;
    }

    // Publishes `count` numbered events, one batch of `batch` at a time, with acks=all; returns
    // the acknowledged sequence numbers.
    std::vector<uint64_t> publish(node& n, uint64_t& next_seq, int count, int batch,
                                  size_t pad = 0) {
        std::vector<uint64_t> acked;
        auto client = http_test_client::connect(n.ports.http);
        EXPECT_TRUE(client);
        if (!client) return acked;
        for (int sent = 0; sent < count; sent += batch) {
            json events = json::array();
            std::vector<uint64_t> seqs;
            for (int i = 0; i < batch; ++i) {
                seqs.push_back(next_seq);
                json payload = {{"seq", next_seq++}};
                if (pad > 0) payload["pad"] = std::string(pad, 'p');
                events.push_back({{"payload", std::move(payload)}});
            }
            auto r = client->request("POST", "/v1/events?acks=all",
                                     json{{"topic", topic_name}, {"events", events}}.dump());
            EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.err().message);
            if (!r || r->status != 201) return acked;
            acked.insert(acked.end(), seqs.begin(), seqs.end());
        }
        return acked;
    }

    // Every event of partition 0 on node n from offset `from`, in offset order (-1 for a
    // probe event).
    std::vector<int64_t> read_all(node& n, uint64_t from = 0) {
        std::vector<int64_t> out;
        auto info = http_call(n.ports.http, "GET", std::string("/v1/topics/") + topic_name);
        EXPECT_TRUE(info && info->status == 200) << (info ? info->body : info.err().message);
        if (!info || info->status != 200) return out;
        const json t = json::parse(info->body);
        const uint64_t end = t["partition_detail"][0]["end_offset"].get<uint64_t>();
        auto client = http_test_client::connect(n.ports.http);
        EXPECT_TRUE(client);
        if (!client) return out;
        for (uint64_t o = from; o < end; ++o) {
            const std::string id = std::string(topic_name) + ".0." + std::to_string(o);
            auto r = client->request("GET", "/v1/events/" + id);
            EXPECT_TRUE(r && r->status == 200)
                << "node " << n.id << " " << id << ": " << (r ? r->body : r.err().message);
            if (!r || r->status != 200) return out;
            const json e = json::parse(r->body);
            out.push_back(e["payload"].contains("seq") ? e["payload"]["seq"].get<int64_t>() : -1);
        }
        return out;
    }

    // Waits until node n holds at least `end` events of partition 0.
    bool caught_up(node& n, uint64_t end, std::chrono::seconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto info = http_call(n.ports.http, "GET", std::string("/v1/topics/") + topic_name);
            if (info && info->status == 200) {
                const json t = json::parse(info->body);
                if (t["partition_detail"][0]["end_offset"].get<uint64_t>() >= end) return true;
            }
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    // Restarts `down` and waits until it holds every event `leader` holds; returns that end
    // offset (nullopt after a failed assertion).
    std::optional<uint64_t> restart_and_catch_up(node& down, node& leader) {
        EXPECT_TRUE(start(down));
        if (down.process == nullptr) return std::nullopt;
        auto info = http_call(leader.ports.http, "GET", std::string("/v1/topics/") + topic_name);
        EXPECT_TRUE(info && info->status == 200);
        if (!info || info->status != 200) return std::nullopt;
        const uint64_t end =
            json::parse(info->body)["partition_detail"][0]["end_offset"].get<uint64_t>();
        if (!caught_up(down, end, 60s)) {
            ADD_FAILURE() << "node " << down.id << " did not catch up to " << end << "; its log:\n"
                          << down.process->log();
            return std::nullopt;
        }
        return end;
    }

    // Makes `want` partition 0's leader: kills whichever node leads and starts it again, until
    // `want` wins an election (about one round in two). False after a failed assertion.
    bool lead_with(node& want) {
        for (int round = 0; round < 16; ++round) {
            node* now = leader(30s);
            EXPECT_NE(now, nullptr) << "partition 0 has no leader";
            if (now == nullptr) return false;
            if (now == &want) return true;
            now->process->stop(SIGKILL, 10s);
            now->process = nullptr;
            EXPECT_NE(leader(30s), nullptr) << "no leader after node " << now->id << " died";
            EXPECT_TRUE(start(*now));
            if (now->process == nullptr) return false;
        }
        ADD_FAILURE() << "node " << want.id << " never won an election";
        return false;
    }

    // Partition 0's start offset on node n (nullopt after a failed assertion).
    std::optional<uint64_t> start_offset(node& n) {
        auto info = http_call(n.ports.http, "GET", std::string("/v1/topics/") + topic_name);
        EXPECT_TRUE(info && info->status == 200) << (info ? info->body : info.err().message);
        if (!info || info->status != 200) return std::nullopt;
        return json::parse(info->body)["partition_detail"][0]["start_offset"].get<uint64_t>();
    }

    // Creates a durable one-partition topic with `rf` replicas (and `settings`) through the
    // controller; the topic as the node answered it (nullopt after a failed expectation).
    std::optional<json> create_topic(const std::string& name, int rf,
                                     const json& settings = json::object()) {
        // Topic admin goes through the controller: the nodes that are not it answer 421.
        std::string refusal;
        json topic = {
            {"name", name}, {"partitions", 1}, {"storage", "durable"}, {"replication_factor", rf}};
        topic.update(settings);
        auto created = any_node("POST", "/v1/topics", topic.dump(), 30s, &refusal);
        EXPECT_TRUE(created) << "no controller took the topic; last refusal: " << refusal;
        if (!created) return std::nullopt;
        EXPECT_EQ(created->status, 201) << created->body;
        if (created->status != 201) return std::nullopt;
        return json::parse(created->body);
    }

    // Starts the 3 nodes, creates the RF=3 topic through the controller, and returns the
    // partition's leader (nullptr after a failed assertion).
    node* bring_up(const json& topic_settings = json::object()) {
        for (node& n : nodes_) {
            EXPECT_TRUE(start(n));
            if (n.process == nullptr) return nullptr;
        }
        if (!create_topic(topic_name, 3, topic_settings)) return nullptr;
        node* first = leader(30s);
        EXPECT_NE(first, nullptr) << "partition 0 got no leader";
        return first;
    }

    // A native connection to node n, past its handshake.
    std::unique_ptr<native_test_client> native(node& n) {
        auto c = native_test_client::connect(n.ports.native);
        EXPECT_TRUE(c) << c.err().message;
        if (!c) return nullptr;
        auto ok = (*c)->handshake();
        EXPECT_TRUE(ok) << ok.err().message;
        return std::move(*c);
    }

    // An idempotent PUBLISH of `count` events numbered from `sequence` by producer 77, acks=all.
    static result<owned_frame> publish_as_producer(native_test_client& c, uint64_t sequence,
                                                   uint32_t count) {
        protocol::publish_request p;
        p.topic = topic_name;
        p.acks = protocol::acks_level::all;
        p.partition = 0;
        p.producer_id = 77;
        p.first_sequence = sequence;
        std::vector<std::string> payloads;
        for (uint32_t i = 0; i < count; ++i) {
            payloads.push_back(json{{"producer_seq", sequence + i}}.dump());
        }
        for (const auto& s : payloads) p.events.push_back({false, 0, {}, s, 0, 0});
        std::string out;
        protocol::encode(out, 500 + sequence, p);
        return call_skipping_pushes(c, out);
    }

    node nodes_[3];
    std::string peers_;
    std::map<std::string, std::string> extra_flags_;  // for every node started
};

TEST_F(cluster_test, a_node_started_with_another_member_list_is_refused) {
    // Node 3 names node 1 by another address: its member list, and so its cluster id, is not
    // the others'. They refuse its connections (a Raft message from a node that disagrees on
    // the membership could elect a second leader) and say why.
    std::string other = peers_;
    const std::string one = "1@127.0.0.1:" + std::to_string(nodes_[0].cluster_port);
    ASSERT_EQ(other.find(one), 0u);
    other.replace(0, one.size(), "1@localhost:" + std::to_string(nodes_[0].cluster_port));
    ASSERT_TRUE(start(nodes_[0]));
    ASSERT_TRUE(start(nodes_[1]));
    const std::string same = peers_;
    peers_ = other;
    ASSERT_TRUE(start(nodes_[2]));
    peers_ = same;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    auto refused = [&] {
        for (int i = 0; i < 2; ++i) {
            if (nodes_[i].process->log().find("refused node 3") != std::string::npos) return true;
        }
        return false;
    };
    while (!refused() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(refused()) << nodes_[0].process->log();
    EXPECT_NE(nodes_[0].process->log().find("the same --peers"), std::string::npos);
    // Nodes 1 and 2 are a majority of their own list: they go on (topic admin works).
    EXPECT_TRUE(create_topic(topic_name, 2));
}

TEST_F(cluster_test, acks_all_waits_for_a_majority) {
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    auto c = native(*first);
    ASSERT_TRUE(c);
    auto ok = publish_as_producer(*c, 0, 1);
    ASSERT_TRUE(ok) << ok.err().message;
    ASSERT_EQ(ok->header.type, protocol::message_type::publish_ack);
    // Both followers gone: the leader alone is no majority, so nothing it appends may be
    // acknowledged. It answers nothing, or, once it gives up leadership for want of a quorum,
    // a retryable error; never PUBLISH_ACK.
    std::vector<node*> followers;
    for (node& n : nodes_) {
        if (&n != first) followers.push_back(&n);
    }
    for (node* f : followers) f->process->stop(SIGKILL);
    std::string out;
    {
        protocol::publish_request p;
        p.topic = topic_name;
        p.acks = protocol::acks_level::all;
        p.partition = 0;
        p.events.push_back({false, 0, {}, "alone", 0, 0});
        protocol::encode(out, 900, p);
    }
    ASSERT_TRUE(c->send_raw(out));
    auto alone = c->read_frame(std::chrono::milliseconds(3000));
    if (alone) {
        ASSERT_EQ(alone->header.type, protocol::message_type::error)
            << "acknowledged without a majority";
        auto e = protocol::decode_error(alone->body);
        ASSERT_TRUE(e);
        EXPECT_TRUE(e->retryable) << e->message;
    } else {
        EXPECT_EQ(alone.err().code, errc::timed_out) << alone.err().message;
    }
    // One follower back makes a majority again: publishes are acknowledged.
    ASSERT_TRUE(start(*followers[0]));
    node* now = leader(30s);
    ASSERT_NE(now, nullptr) << "no leader after a follower came back";
    auto c2 = native(*now);
    ASSERT_TRUE(c2);
    auto back = publish_as_producer(*c2, 1, 1);
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->header.type, protocol::message_type::publish_ack);
}

// With the other two nodes down the controller has no majority, and a topic creation on the
// node left waits a second or more (its own proposal until it gives up leadership, or a dead
// leader tried again). It runs off the io thread: the node answers other connections meanwhile.
// (On the test machines' 2 CPUs the node has one io thread, which would otherwise be held.)
TEST_F(cluster_test, a_topic_creation_waiting_for_the_controller_holds_up_no_other_connection) {
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    for (node& n : nodes_) {
        if (&n != first) n.process->stop(SIGKILL);
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(first->ports.http);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    const std::string body = json{
        {"name", "waits"},
        {"partitions", 1},
        {"storage", "durable"},
        {"replication_factor",
         3}}.dump();
    const std::string request =
        "POST /v1/topics HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::this_thread::sleep_for(100ms);
    const auto asked = std::chrono::steady_clock::now();
    auto live = http_call(first->ports.http, "GET", "/health/live");
    const auto took = std::chrono::steady_clock::now() - asked;
    pollfd p{fd, POLLIN, 0};
    const bool creation_answered = ::poll(&p, 1, 0) > 0;
    ::close(fd);
    ASSERT_TRUE(live) << live.err().message;
    EXPECT_EQ(live->status, 200);
    EXPECT_FALSE(creation_answered) << "the creation did not wait: the test shows nothing";
    // (With the creation on the io thread, the health check waited a second or more for it.)
    EXPECT_LT(took, 800ms) << "the health check waited for the topic creation";
}

// A long-poll subscription of a group commits what it delivered on its next poll and when it
// is deleted. In a cluster the commit goes through the partition's Raft group; the node answers
// without waiting for it, and the offset is there once the group commits it.
TEST_F(cluster_test, long_poll_group_commits_reach_the_replicated_offset) {
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    uint64_t seq = 0;
    ASSERT_EQ(publish(*first, seq, 4, 4).size(), 4u);
    auto info = http_call(first->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(info && info->status == 200);
    const uint64_t end = json::parse(info->body)["partition_detail"][0]["end_offset"];
    auto sub =
        http_call(first->ports.http, "POST", "/v1/topics/subscribe",
                  json{{"topic", topic_name}, {"group", "audit"}, {"start", "earliest"}}.dump());
    ASSERT_TRUE(sub && sub->status == 201) << (sub ? sub->body : sub.err().message);
    const std::string id = json::parse(sub->body)["subscription_id"];
    const std::string events = "/v1/subscriptions/" + id + "/events?wait_ms=1000&max=";
    auto polled = http_call(first->ports.http, "GET", events + "2");
    ASSERT_TRUE(polled && polled->status == 200);
    ASSERT_EQ(json::parse(polled->body)["events"].size(), 2u) << polled->body;

    // The group's committed offset as the leader answers it, within 10 s. The followers
    // refuse and name the leader: their copy may lag the commit the leader just applied. Right
    // after the election a follower may not have heard of the leader yet (it learns it from the
    // leader's next message, and its view is read every 50 ms): "no leader yet" (unavailable,
    // retryable) until then.
    auto committed_at_leader = [&](uint64_t want) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        std::string seen;
        for (node& n : nodes_) {
            auto c = native(n);
            if (!c) return false;
            for (;;) {
                std::string out;
                protocol::encode(out, 700, protocol::fetch_offset_request{topic_name, "audit", 0});
                auto f = call_skipping_pushes(*c, out);
                if (!f) return false;
                if (&n != first) {
                    EXPECT_EQ(f->header.type, protocol::message_type::error) << "node " << n.id;
                    const auto e = protocol::decode_error(f->body);
                    if (e && e->code == static_cast<uint16_t>(errc::unavailable) &&
                        std::chrono::steady_clock::now() < deadline) {
                        std::this_thread::sleep_for(20ms);
                        continue;
                    }
                    EXPECT_TRUE(e && e->code == static_cast<uint16_t>(errc::not_leader) &&
                                e->message.find("leader is node " + std::to_string(first->id)) !=
                                    std::string::npos)
                        << "node " << n.id << ": " << (e ? e->message : "bad ERROR");
                    break;
                }
                if (f->header.type != protocol::message_type::offset) return false;
                const auto o = protocol::decode_offset(f->body);
                seen = o && o->offset ? std::to_string(*o->offset) : "none";
                if (o && o->offset && *o->offset == want) break;
                if (std::chrono::steady_clock::now() > deadline) {
                    ADD_FAILURE() << "committed offset " << seen << ", want " << want;
                    return false;
                }
                std::this_thread::sleep_for(100ms);
            }
        }
        return true;
    };
    // The next poll commits the first two; it takes the rest.
    polled = http_call(first->ports.http, "GET", events + std::to_string(end));
    ASSERT_TRUE(polled && polled->status == 200);
    ASSERT_EQ(json::parse(polled->body)["events"].size(), end - 2) << polled->body;
    EXPECT_TRUE(committed_at_leader(2));
    // Deleting it commits everything delivered.
    auto gone = http_call(first->ports.http, "DELETE", "/v1/subscriptions/" + id);
    ASSERT_TRUE(gone && gone->status == 200);
    EXPECT_TRUE(committed_at_leader(end));
}

TEST_F(cluster_test, every_node_names_the_partition_leader_in_metadata) {
    // Listening on every address: each node advertises its host from peers, not 0.0.0.0.
    extra_flags_["bind"] = "0.0.0.0";
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    // What every node answers to METADATA and DESCRIBE_TOPIC over the native protocol: the
    // three nodes with their native ports, and the node that leads (it was this node, whoever
    // was asked, before).
    for (node& n : nodes_) {
        auto c = native(n);
        ASSERT_TRUE(c);
        // The leader as the node itself learns it: a follower hears of it with the first
        // heartbeat, so ask until it names one.
        protocol::metadata_reply reply;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        for (;;) {
            std::string out;
            protocol::encode(out, 5, protocol::metadata_request{{topic_name}});
            ASSERT_TRUE(c->send_raw(out));
            auto f = c->read_frame();
            ASSERT_TRUE(f) << f.err().message;
            ASSERT_EQ(f->header.type, protocol::message_type::metadata_info);
            auto m = protocol::decode_metadata_reply(f->body);
            ASSERT_TRUE(m) << m.err().message;
            reply = *m;
            ASSERT_EQ(reply.topics.size(), 1u);
            ASSERT_EQ(reply.topics[0].leader_by_partition.size(), 1u);
            if (reply.topics[0].leader_by_partition[0] != 0 ||
                std::chrono::steady_clock::now() > deadline) {
                break;
            }
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(reply.topics[0].leader_by_partition[0], first->id) << "asked node " << n.id;
        ASSERT_EQ(reply.nodes.size(), 3u) << "asked node " << n.id;
        for (const protocol::node_address& a : reply.nodes) {
            ASSERT_GE(a.node_id, 1u);
            ASSERT_LE(a.node_id, 3u);
            EXPECT_EQ(a.native_port, nodes_[a.node_id - 1].ports.native) << "node " << a.node_id;
            EXPECT_EQ(a.host, "127.0.0.1") << "node " << a.node_id;
        }
        std::string out;
        protocol::encode_describe_topic(out, 6, protocol::topic_name_request{topic_name});
        ASSERT_TRUE(c->send_raw(out));
        auto f = c->read_frame();
        ASSERT_TRUE(f) << f.err().message;
        ASSERT_EQ(f->header.type, protocol::message_type::topic_info);
        auto d = protocol::decode_topic_info(f->body);
        ASSERT_TRUE(d) << d.err().message;
        ASSERT_EQ(d->partitions.size(), 1u);
        EXPECT_EQ(d->partitions[0].leader_node, first->id) << "asked node " << n.id;
    }
}

TEST_F(cluster_test, nodes_without_a_replica_name_the_leader_the_controller_recorded) {
    ASSERT_NE(bring_up(), nullptr);
    // One replica: two of the three nodes hold none, and know its leader only from the
    // leader's report to the controller.
    ASSERT_TRUE(create_topic("single", 1));
    const std::string event = json{{"topic", "single"}, {"payload", 1}}.dump();
    node* holder = nullptr;
    for (int i = 0; i < 100 && holder == nullptr; ++i) {
        for (node& n : nodes_) {
            auto r = http_call(n.ports.http, "POST", "/v1/events?acks=all", event);
            if (r && r->status == 201) holder = &n;
        }
        if (holder == nullptr) std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(holder, nullptr) << "no node took a publish to the RF 1 topic";
    for (node& n : nodes_) {
        if (&n == holder) continue;
        const std::string named = "leader is node " + std::to_string(holder->id);
        std::optional<http_reply> r;
        for (int i = 0; i < 100; ++i) {
            auto got = http_call(n.ports.http, "POST", "/v1/events?acks=all", event);
            ASSERT_TRUE(got);
            r = *got;
            if (r->body.find(named) != std::string::npos) break;
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(r->status, 421) << "node " << n.id << ": " << r->body;
        EXPECT_NE(r->body.find(named), std::string::npos) << "node " << n.id << ": " << r->body;
        // Reading an event sends the client to the replica too.
        auto read = http_call(n.ports.http, "GET", "/v1/events/single.0.0");
        ASSERT_TRUE(read);
        EXPECT_EQ(read->status, 421) << "node " << n.id << ": " << read->body;
        EXPECT_NE(read->body.find(named), std::string::npos)
            << "node " << n.id << ": " << read->body;
    }
    auto read = http_call(holder->ports.http, "GET", "/v1/events/single.0.0");
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, 200) << read->body;
}

TEST_F(cluster_test, leader_kill_loses_no_acknowledged_event) {
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    // A follower refuses publishes, naming the leader and (once the leader has registered
    // them with the controller) its client ports.
    for (node& n : nodes_) {
        if (&n == first) continue;
        const std::string ports = "http port " + std::to_string(first->ports.http);
        std::optional<http_reply> r;
        for (int i = 0; i < 100; ++i) {
            auto got = http_call(n.ports.http, "POST", "/v1/events?acks=all",
                                 json{{"topic", topic_name}, {"payload", 1}}.dump());
            ASSERT_TRUE(got);
            r = *got;
            if (r->body.find(ports) != std::string::npos) break;
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(r->status, 421) << r->body;
        EXPECT_NE(r->body.find("leader is node " + std::to_string(first->id)), std::string::npos)
            << r->body;
        EXPECT_NE(r->body.find(ports), std::string::npos) << r->body;
    }

    uint64_t seq = 0;
    std::vector<uint64_t> acked = publish(*first, seq, 200, 10);
    ASSERT_EQ(acked.size(), 200u);

    // kill -9 the leader: another replica is elected and takes publishes.
    const uint32_t killed = first->id;
    first->process->stop(SIGKILL, 10s);
    first->process = nullptr;
    node* second = leader(30s, killed);
    ASSERT_NE(second, nullptr) << "no new leader after the leader was killed";
    const auto more = publish(*second, seq, 200, 10);
    ASSERT_EQ(more.size(), 200u);
    acked.insert(acked.end(), more.begin(), more.end());

    // The killed node comes back and catches up from the new leader.
    node& back = nodes_[killed - 1];
    ASSERT_TRUE(start(back));
    auto lead_info = http_call(second->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(lead_info && lead_info->status == 200);
    const uint64_t end =
        json::parse(lead_info->body)["partition_detail"][0]["end_offset"].get<uint64_t>();
    for (node& n : nodes_) {
        ASSERT_TRUE(caught_up(n, end, 30s)) << "node " << n.id << " did not catch up to " << end;
    }

    // Every replica holds the same log, and every acknowledged event once, in order.
    std::vector<int64_t> reference;
    for (node& n : nodes_) {
        const auto log = read_all(n);
        ASSERT_EQ(log.size(), end) << "node " << n.id;
        if (reference.empty()) {
            reference = log;
        } else {
            EXPECT_EQ(log, reference) << "node " << n.id << " differs from node 1";
        }
    }
    std::map<int64_t, size_t> where;
    int64_t previous = -1;
    for (size_t o = 0; o < reference.size(); ++o) {
        if (reference[o] < 0) continue;  // a leader probe
        ASSERT_TRUE(where.emplace(reference[o], o).second) << "event " << reference[o] << " twice";
        EXPECT_LT(previous, reference[o]) << "out of order at offset " << o;
        previous = reference[o];
    }
    for (uint64_t s : acked) {
        EXPECT_TRUE(where.count(static_cast<int64_t>(s)))
            << "acknowledged event " << s << " is missing";
    }
}

TEST_F(cluster_test, producer_state_and_group_offsets_survive_failover) {
    using protocol::message_type;
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    auto c = native(*first);
    ASSERT_TRUE(c);
    for (uint64_t seq : {0, 3}) {
        auto f = publish_as_producer(*c, seq, 3);
        ASSERT_TRUE(f) << f.err().message;
        ASSERT_EQ(f->header.type, message_type::publish_ack)
            << protocol::decode_error(f->body)->message;
        EXPECT_FALSE(protocol::decode_publish_ack(f->body)->batches[0].duplicate);
    }
    std::string out;
    protocol::encode(out, 600, protocol::commit_offset_request{topic_name, "billing", 0, 4});
    auto committed = call_skipping_pushes(*c, out);
    ASSERT_TRUE(committed) << committed.err().message;
    ASSERT_EQ(committed->header.type, message_type::ok)
        << protocol::decode_error(committed->body)->message;

    const uint32_t killed = first->id;
    first->process->stop(SIGKILL, 10s);
    first->process = nullptr;
    node* second = leader(30s, killed);
    ASSERT_NE(second, nullptr) << "no new leader after the leader was killed";
    auto c2 = native(*second);
    ASSERT_TRUE(c2);

    // The retry of the last batch, as a producer whose ack was lost would send it to the new
    // leader: acknowledged as a duplicate at its first offset, not appended again.
    auto retry = publish_as_producer(*c2, 3, 3);
    ASSERT_TRUE(retry) << retry.err().message;
    ASSERT_EQ(retry->header.type, message_type::publish_ack)
        << protocol::decode_error(retry->body)->message;
    const auto ack = protocol::decode_publish_ack(retry->body);
    ASSERT_TRUE(ack && ack->batches.size() == 1);
    EXPECT_TRUE(ack->batches[0].duplicate);
    // The next batch is new; one that skips numbers is refused.
    auto next = publish_as_producer(*c2, 6, 1);
    ASSERT_TRUE(next) << next.err().message;
    ASSERT_EQ(next->header.type, message_type::publish_ack);
    EXPECT_FALSE(protocol::decode_publish_ack(next->body)->batches[0].duplicate);
    auto gap = publish_as_producer(*c2, 9, 1);
    ASSERT_TRUE(gap) << gap.err().message;
    ASSERT_EQ(gap->header.type, message_type::error);
    EXPECT_EQ(protocol::decode_error(gap->body)->code,
              static_cast<uint16_t>(errc::invalid_argument));

    // The group's offset, committed through the old leader's log, is there on the new one.
    out.clear();
    protocol::encode(out, 601, protocol::fetch_offset_request{topic_name, "billing", 0});
    auto fetched = call_skipping_pushes(*c2, out);
    ASSERT_TRUE(fetched) << fetched.err().message;
    ASSERT_EQ(fetched->header.type, message_type::offset);
    const auto offset = protocol::decode_offset(fetched->body);
    ASSERT_TRUE(offset && offset->offset);
    EXPECT_EQ(*offset->offset, 4u);

    // 3 + 3 + 1 producer events, each once, whatever probes the leader search added.
    std::vector<uint64_t> seqs;
    auto all = http_call(second->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(all && all->status == 200);
    const uint64_t end = json::parse(all->body)["partition_detail"][0]["end_offset"];
    for (uint64_t o = 0; o < end; ++o) {
        auto r = http_call(second->ports.http, "GET",
                           "/v1/events/" + std::string(topic_name) + ".0." + std::to_string(o));
        ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.err().message);
        const json e = json::parse(r->body);
        if (e["payload"].is_object() && e["payload"].contains("producer_seq")) {
            seqs.push_back(e["payload"]["producer_seq"].get<uint64_t>());
        }
    }
    EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST_F(cluster_test, a_replica_down_past_compaction_catches_up_through_a_snapshot) {
    // Partition groups snapshot every 32 batches and keep 16 behind: a replica that misses 100
    // batches finds the leader's log compacted past it.
    extra_flags_ = {{"raft_snapshot_threshold", "32"}, {"raft_snapshot_trailing", "16"}};
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    node& down = first != &nodes_[0] ? nodes_[0] : nodes_[1];
    down.process->stop(SIGKILL, 10s);
    down.process = nullptr;
    // Down for longer than raft_uv's reconnect delay on both sides of the batches: messages for
    // a peer wait in raft_uv until a connect attempt fails, and a node back before that would get
    // every batch from them instead of needing a snapshot.
    std::this_thread::sleep_for(1s);

    // A group commit goes through the log before the batches that push it out of the log.
    auto c = native(*first);
    ASSERT_TRUE(c);
    std::string out;
    protocol::encode(out, 700, protocol::commit_offset_request{topic_name, "billing", 0, 7});
    auto committed = call_skipping_pushes(*c, out);
    ASSERT_TRUE(committed) << committed.err().message;
    ASSERT_EQ(committed->header.type, protocol::message_type::ok)
        << protocol::decode_error(committed->body)->message;

    uint64_t seq = 0;
    const auto acked = publish(*first, seq, 400, 4);  // 100 batches, one Raft entry each
    ASSERT_EQ(acked.size(), 400u);
    std::this_thread::sleep_for(1s);

    const auto caught = restart_and_catch_up(down, *first);
    ASSERT_TRUE(caught);
    const uint64_t end = *caught;
    // It got there through the snapshot: it fetched the events the snapshot covers first.
    EXPECT_NE(down.process->log().find("before installing a snapshot"), std::string::npos)
        << down.process->log();
    const auto theirs = read_all(*first);
    const auto mine = read_all(down);
    ASSERT_EQ(theirs.size(), end);
    EXPECT_EQ(mine, theirs);
    size_t found = 0;
    for (int64_t s : mine) found += s >= 0;
    EXPECT_EQ(found, acked.size());

    // The snapshot carried the group's offset too: the commit's log entry was gone. Only the
    // leader answers an offset fetch.
    ASSERT_TRUE(lead_with(down));
    auto cd = native(down);
    ASSERT_TRUE(cd);
    std::optional<uint64_t> offset;
    for (int i = 0; i < 100 && offset != 7u; ++i) {
        out.clear();
        protocol::encode(out, 701, protocol::fetch_offset_request{topic_name, "billing", 0});
        auto fetched = call_skipping_pushes(*cd, out);
        ASSERT_TRUE(fetched) << fetched.err().message;
        ASSERT_EQ(fetched->header.type, protocol::message_type::offset)
            << protocol::decode_error(fetched->body)->message;
        offset = protocol::decode_offset(fetched->body)->offset;
        if (offset != 7u) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(offset, 7u) << "node " << down.id << " lacks the group offset";
}

// A cluster's stores write events without RocksDB's WAL (the Raft log is the durable copy),
// and a snapshot lets libraft drop the log before it, so each node flushes its store before it
// stores a snapshot. Every node killed at once, after several snapshots, comes back with every
// acknowledged event: from its store up to the snapshot, from its Raft log after it.
TEST_F(cluster_test, a_replica_down_past_retention_starts_where_the_others_do) {
    // As above, and the topic keeps only 64 KiB: by the time the replica is back, the events
    // it lacks are gone from the other replicas too. It cannot fetch them for the snapshot,
    // so it starts its log where they start theirs instead of failing the install for ever.
    extra_flags_ = {{"raft_snapshot_threshold", "32"}, {"raft_snapshot_trailing", "16"}};
    node* first = bring_up(json{{"retention_bytes", 64 * 1024}, {"max_event_bytes", 4096}});
    ASSERT_NE(first, nullptr);
    node& down = first != &nodes_[0] ? nodes_[0] : nodes_[1];
    down.process->stop(SIGKILL, 10s);
    down.process = nullptr;
    std::this_thread::sleep_for(1s);
    uint64_t seq = 0;
    const auto acked = publish(*first, seq, 400, 4, 1000);  // ~400 KB in 100 batches
    ASSERT_EQ(acked.size(), 400u);
    // Retention runs every second on each node, on its own clock: the replica may fetch from
    // either of the others, so both must have dropped the events it lacks.
    for (node& n : nodes_) {
        if (&n == &down) continue;
        std::optional<uint64_t> start;
        for (int i = 0; i < 50 && start.value_or(0) <= 8; ++i) {
            std::this_thread::sleep_for(100ms);
            start = start_offset(n);
        }
        ASSERT_TRUE(start && *start > 8) << "retention did not run on node " << n.id;
    }
    std::optional<uint64_t> lead_start;

    const auto caught = restart_and_catch_up(down, *first);
    ASSERT_TRUE(caught);
    const uint64_t end = *caught;
    EXPECT_NE(down.process->log().find("gone by retention on every other replica"),
              std::string::npos)
        << down.process->log();
    // What it holds is what the leader holds, offset for offset, from where both hold events.
    const auto down_start = start_offset(down);
    lead_start = start_offset(*first);
    ASSERT_TRUE(down_start && lead_start);
    EXPECT_GT(*down_start, 8u);
    const uint64_t from = std::max(*down_start, *lead_start);
    ASSERT_LT(from, end);
    EXPECT_EQ(read_all(down, from), read_all(*first, from));
    // And it goes on as a replica: a new batch reaches it.
    const auto more = publish(*first, seq, 4, 4);
    ASSERT_EQ(more.size(), 4u);
    EXPECT_TRUE(caught_up(down, end + 4, 30s));
}

TEST_F(cluster_test, a_topic_deleted_and_made_again_while_a_replica_is_down_is_replaced_there) {
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    node& down = first != &nodes_[0] ? nodes_[0] : nodes_[1];
    // The Raft groups' directories on a node: g0 is the controller's, the others partitions'.
    auto group_dirs = [](const node& n) {
        std::set<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(n.data_dir + "/raft")) {
            out.insert(e.path().filename().string());
        }
        return out;
    };
    const auto before = group_dirs(down);
    ASSERT_EQ(before.size(), 2u);  // the controller and partition 0
    ASSERT_TRUE(down.process->stop(SIGTERM, 10s));
    down.process = nullptr;
    auto deleted = any_node("DELETE", std::string("/v1/topics/") + topic_name, "", 30s);
    ASSERT_TRUE(deleted);
    ASSERT_EQ(deleted->status, 200) << deleted->body;
    // The same name again: a new topic, with a new id and new Raft groups.
    const auto made = create_topic(topic_name, 3);
    ASSERT_TRUE(made);
    const uint64_t new_id = (*made)["id"].get<uint64_t>();
    node* lead = leader(30s, down.id);
    ASSERT_NE(lead, nullptr);
    uint64_t seq = 0;
    ASSERT_EQ(publish(*lead, seq, 8, 4).size(), 8u);

    // Back, the node drops the old topic (Raft files too) and takes the new one: it
    // replicates its events. Before, it tried the new one first, found the name taken, and
    // left it out until the controller's state next changed.
    const auto caught = restart_and_catch_up(down, *lead);
    ASSERT_TRUE(caught);
    auto info = http_call(down.ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(info && info->status == 200);
    EXPECT_EQ(json::parse(info->body)["id"].get<uint64_t>(), new_id);
    const auto after = group_dirs(down);
    ASSERT_EQ(after.size(), 2u) << down.process->log();
    EXPECT_TRUE(after.count("g0"));
    for (const auto& d : before) {
        if (d != "g0") {
            EXPECT_FALSE(after.count(d)) << d << " is still there";
        }
    }
    EXPECT_EQ(read_all(down), read_all(*lead));
    EXPECT_EQ(down.process->log().find("cannot create topic"), std::string::npos)
        << down.process->log();
}

TEST_F(cluster_test, every_node_killed_after_snapshots_comes_back_with_every_acknowledged_event) {
    extra_flags_ = {{"raft_snapshot_threshold", "32"}, {"raft_snapshot_trailing", "16"}};
    node* first = bring_up();
    ASSERT_NE(first, nullptr);
    uint64_t seq = 0;
    const auto acked = publish(*first, seq, 400, 4);  // 100 batches: three snapshots or more
    ASSERT_EQ(acked.size(), 400u);
    auto info = http_call(first->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(info && info->status == 200);
    const uint64_t end =
        json::parse(info->body)["partition_detail"][0]["end_offset"].get<uint64_t>();

    for (node& n : nodes_) {
        n.process->stop(SIGKILL, 10s);
        n.process = nullptr;
    }
    for (node& n : nodes_) ASSERT_TRUE(start(n));
    node* back = leader(30s);  // its probe events follow the ones before the kill
    ASSERT_NE(back, nullptr) << "no leader after the restart";
    info = http_call(back->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(info && info->status == 200);
    const uint64_t now =
        json::parse(info->body)["partition_detail"][0]["end_offset"].get<uint64_t>();
    ASSERT_GE(now, end);
    std::vector<int64_t> reference;
    for (node& n : nodes_) {
        ASSERT_TRUE(caught_up(n, now, 60s))
            << "node " << n.id << " did not get back to offset " << now << "; its log:\n"
            << n.process->log();
        auto log = read_all(n);
        ASSERT_GE(log.size(), now) << "node " << n.id;
        log.resize(now);
        if (reference.empty()) {
            reference = log;
        } else {
            EXPECT_EQ(log, reference) << "node " << n.id << " differs from node 1";
        }
    }
    std::set<int64_t> held(reference.begin(), reference.end());
    for (uint64_t s : acked) {
        EXPECT_TRUE(held.count(static_cast<int64_t>(s)))
            << "acknowledged event " << s << " is lost";
    }
}

}  // namespace
}  // namespace es::test
