// frame_reader: frames split across reads at every size (one byte at a time, random chunks),
// bad headers refused as soon as they arrive, and parse_single_frame for datagrams.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.h"

namespace es::protocol {
namespace {

struct seen_frame {
    message_type type;
    uint64_t request_id;
    std::string body;
};

// A stream of frames of several types and sizes.
std::string sample_stream(std::vector<seen_frame>* want) {
    std::string s;
    for (uint64_t i = 0; i < 50; ++i) {
        const size_t before = s.size();
        switch (i % 4) {
            case 0:
                encode_ping(s, i, ping{std::string(i * 7, 'a' + i % 26)});
                break;
            case 1:
                encode_ok(s, i);
                break;
            case 2: {
                publish_request p;
                p.topic = "t";
                std::string payload(i * 100, 'p');
                p.events = {wire_event{false, 0, "", payload, 0, 0}};
                encode(s, i, p);
                break;
            }
            default:
                encode(s, i, error_reply{2, false, "not found " + std::to_string(i)});
        }
        auto f = parse_single_frame(std::string_view(s).substr(before), max_frame_bytes_limit);
        EXPECT_TRUE(f.has_value());
        want->push_back({f->header.type, f->header.request_id, std::string(f->body)});
    }
    return s;
}

// Takes every whole frame the reader holds, appending copies to `got`.
void take_frames(frame_reader& reader, std::vector<seen_frame>& got) {
    for (;;) {
        auto f = reader.next();
        EXPECT_TRUE(f.has_value());
        if (!f || !*f) break;
        got.push_back({(*f)->header.type, (*f)->header.request_id, std::string((*f)->body)});
    }
}

// Feeds `stream` in the given chunk sizes and collects every frame.
std::vector<seen_frame> read_all(const std::string& stream, const std::vector<size_t>& chunks) {
    frame_reader reader;
    std::vector<seen_frame> got;
    size_t at = 0;
    for (size_t n : chunks) {
        reader.feed(std::string_view(stream).substr(at, n));
        at += n;
        take_frames(reader, got);
    }
    EXPECT_EQ(at, stream.size());
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    return got;
}

void expect_same(const std::vector<seen_frame>& a, const std::vector<seen_frame>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].type, b[i].type) << i;
        EXPECT_EQ(a[i].request_id, b[i].request_id) << i;
        EXPECT_EQ(a[i].body, b[i].body) << i;
    }
}

// As read_all, with each chunk received into prepare()'s room (larger than what comes, as a
// socket read into a fixed room returns what has arrived), and the room for the next chunk
// prepared before the frames of this one are taken, as the node and the client do.
std::vector<seen_frame> receive_all(const std::string& stream, const std::vector<size_t>& chunks,
                                    size_t room) {
    frame_reader reader;
    std::vector<seen_frame> got;
    size_t at = 0;
    for (size_t n : chunks) {
        EXPECT_LE(n, room);
        char* into = reader.prepare(room);
        std::memcpy(into, stream.data() + at, n);
        reader.commit(n);
        at += n;
        take_frames(reader, got);
    }
    EXPECT_EQ(at, stream.size());
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    return got;
}

TEST(frame_reader, bytes_received_into_its_room_read_as_fed_ones) {
    std::vector<seen_frame> want;
    const std::string stream = sample_stream(&want);
    std::mt19937 rng(7);
    for (size_t room : {size_t{1}, size_t{16}, size_t{4096}, size_t{65536}}) {
        std::vector<size_t> chunks;
        for (size_t left = stream.size(); left > 0;) {
            const size_t n = std::min<size_t>(left, 1 + rng() % room);
            chunks.push_back(n);
            left -= n;
        }
        expect_same(receive_all(stream, chunks, room), want);
    }
}

TEST(frame_reader, a_commit_takes_only_what_came) {
    std::vector<seen_frame> want;
    const std::string stream = sample_stream(&want);
    frame_reader reader;
    char* room = reader.prepare(stream.size() + 100);
    // Garbage past what "arrived" is not taken.
    std::memset(room, 0x7f, stream.size() + 100);
    std::memcpy(room, stream.data(), stream.size() - 1);
    reader.commit(stream.size() - 1);
    std::vector<seen_frame> got;
    take_frames(reader, got);
    EXPECT_EQ(got.size(), want.size() - 1);
    EXPECT_GT(reader.buffered_bytes(), 0u);
    room = reader.prepare(10);
    room[0] = stream.back();
    reader.commit(1);
    take_frames(reader, got);
    expect_same(got, want);
    EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(frame_reader, one_byte_at_a_time) {
    std::vector<seen_frame> want;
    const std::string s = sample_stream(&want);
    expect_same(read_all(s, std::vector<size_t>(s.size(), 1)), want);
}

TEST(frame_reader, all_at_once) {
    std::vector<seen_frame> want;
    const std::string s = sample_stream(&want);
    expect_same(read_all(s, {s.size()}), want);
}

TEST(frame_reader, random_chunks) {
    std::vector<seen_frame> want;
    const std::string s = sample_stream(&want);
    for (uint32_t seed = 1; seed <= 20; ++seed) {
        std::mt19937 rng(seed);
        std::vector<size_t> chunks;
        size_t left = s.size();
        while (left > 0) {
            const size_t n = std::min<size_t>(left, 1 + rng() % 300);
            chunks.push_back(n);
            left -= n;
        }
        expect_same(read_all(s, chunks), want);
    }
}

TEST(frame_reader, kept_frames_stay_where_they_were_while_it_reads_on) {
    // Frames of 0 to 40 KiB received in pieces of up to 16 KiB into storage of 64 KiB, every
    // other frame kept for a while (as the node lends a PUBLISH to the engine) and let go on
    // another thread: each kept body stays where it was, unchanged, until its keeper goes, and
    // the frames read are those sent.
    std::mt19937 rng(7);
    std::string stream;
    std::vector<seen_frame> want;
    for (uint64_t i = 0; i < 400; ++i) {
        const size_t before = stream.size();
        encode_ping(stream, i,
                    ping{std::string(rng() % (40 << 10), static_cast<char>('a' + i % 26))});
        auto f = parse_single_frame(std::string_view(stream).substr(before), max_frame_bytes_limit);
        ASSERT_TRUE(f.has_value());
        want.push_back({f->header.type, f->header.request_id, std::string(f->body)});
    }
    struct kept_frame {
        frame_keeper keeper;
        std::string_view body;
        std::string copy;
    };
    std::deque<kept_frame> kept;
    struct joined {  // an ASSERT's early return must not leave a thread joinable
        std::vector<std::thread> threads;
        ~joined() {
            for (auto& t : threads) t.join();
        }
    } droppers;
    frame_reader reader(default_max_frame_bytes, 64 << 10);
    std::vector<seen_frame> got;
    size_t at = 0;
    while (at < stream.size()) {
        const size_t n = std::min<size_t>(stream.size() - at, 1 + rng() % (16 << 10));
        char* into = reader.prepare(16 << 10);
        std::memcpy(into, stream.data() + at, n);
        reader.commit(n);
        at += n;
        for (;;) {
            auto f = reader.next();
            ASSERT_TRUE(f.has_value());
            if (!*f) break;
            got.push_back({(*f)->header.type, (*f)->header.request_id, std::string((*f)->body)});
            if (got.size() % 2 == 0)
                kept.push_back({reader.keep(), (*f)->body, std::string((*f)->body)});
        }
        for (const kept_frame& k : kept) ASSERT_EQ(k.body, k.copy);
        while (kept.size() > 6) {  // the oldest go, on another thread
            droppers.threads.emplace_back(
                [k = std::move(kept.front().keeper)]() mutable { k.reset(); });
            kept.pop_front();
        }
    }
    for (const kept_frame& k : kept) EXPECT_EQ(k.body, k.copy);
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    expect_same(got, want);
}

TEST(frame_reader, a_frame_kept_is_not_moved_by_what_comes_after_it) {
    // One frame kept while a partial one behind it grows past the storage's end: the partial
    // one moves to fresh storage, the kept one does not.
    std::string s;
    encode_ping(s, 1, ping{std::string(3000, 'k')});
    const size_t first = s.size();
    encode_ping(s, 2, ping{std::string(9000, 'n')});
    const std::string first_body = s.substr(frame_header_bytes, first - frame_header_bytes);
    const std::string second_body = s.substr(first + frame_header_bytes);
    frame_reader reader(default_max_frame_bytes, 4096);
    reader.feed(std::string_view(s).substr(0, first + 100));
    auto f = reader.next();
    ASSERT_TRUE(f.has_value() && f->has_value());
    const std::string_view body = (*f)->body;
    frame_keeper keeper = reader.keep();
    reader.feed(std::string_view(s).substr(first + 100));
    auto g = reader.next();
    ASSERT_TRUE(g.has_value() && g->has_value());
    EXPECT_EQ((*g)->body, second_body);
    EXPECT_EQ(body, first_body);
    // Let go, the storage is the reader's again: reading goes on as usual.
    keeper.reset();
    std::string more;
    encode_ping(more, 3, ping{"again"});
    reader.feed(more);
    auto h = reader.next();
    ASSERT_TRUE(h.has_value() && h->has_value());
    EXPECT_EQ(decode_ping((*h)->body)->data, "again");
}

TEST(frame_reader, partial_frame_is_buffered) {
    std::string s;
    encode_ping(s, 1, ping{"hello"});
    frame_reader reader;
    reader.feed(std::string_view(s).substr(0, 10));
    EXPECT_FALSE(reader.next()->has_value());
    EXPECT_EQ(reader.buffered_bytes(), 10u);
    reader.feed(std::string_view(s).substr(10));
    auto f = reader.next();
    ASSERT_TRUE(f.has_value() && f->has_value());
    EXPECT_EQ(decode_ping((*f)->body)->data, "hello");
}

std::string header(uint32_t frame_bytes, uint16_t type, uint16_t flags) {
    std::string h(16, '\0');
    std::memcpy(h.data(), &frame_bytes, 4);
    std::memcpy(h.data() + 4, &type, 2);
    std::memcpy(h.data() + 6, &flags, 2);
    return h;
}

error reader_error(const std::string& bytes, uint32_t max = default_max_frame_bytes) {
    frame_reader reader(max);
    reader.feed(bytes);
    auto f = reader.next();
    EXPECT_FALSE(f.has_value());
    return f ? error{} : f.err();
}

TEST(frame_reader, bad_headers_are_refused_before_the_body) {
    error e = reader_error(header(default_max_frame_bytes + 1, 0x0002, 0));
    EXPECT_EQ(e.code, errc::too_large);
    EXPECT_EQ(e.message, "frame_bytes: 4194305 bytes, the limit is 4194304");
    e = reader_error(header(100, 0x0002, 0), 64);
    EXPECT_EQ(e.message, "frame_bytes: 100 bytes, the limit is 64");
    e = reader_error(header(15, 0x0002, 0));
    EXPECT_EQ(e.code, errc::invalid_argument);
    EXPECT_EQ(e.message, "frame_bytes: 15 is below the 16-byte header");
    e = reader_error(header(16, 0x0002, 1));
    EXPECT_EQ(e.message, "flags: must be 0, got 1");
    e = reader_error(header(16, 0x0003, 0));
    EXPECT_EQ(e.message, "type: unknown message type 3");
}

TEST(frame_reader, parse_single_frame_wants_exactly_one) {
    std::string s;
    encode_ok(s, 5);
    EXPECT_TRUE(parse_single_frame(s, 64).has_value());
    EXPECT_EQ(parse_single_frame(s.substr(0, 10), 64).err().message,
              "frame: 10 bytes are fewer than the 16-byte header");
    EXPECT_EQ(parse_single_frame(s + "x", 64).err().message,
              "frame_bytes: 16 but the datagram has 17 bytes");
    std::string two = s + s;
    EXPECT_EQ(parse_single_frame(two, 64).err().message,
              "frame_bytes: 16 but the datagram has 32 bytes");
}

}  // namespace
}  // namespace es::protocol
