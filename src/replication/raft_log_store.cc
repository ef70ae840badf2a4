// raft_log_store: segments, snapshot and vote files of one Raft group (see raft_log_format.h).
#include "replication/raft_log_store.h"

#include <fcntl.h>
#include <limits.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/crc32c.h"
#include "common/file_io.h"
#include "core/record_format.h"
#include "replication/raft_log_format.h"

namespace es::replication {

namespace fs = std::filesystem;
namespace fmt_ = raft_log_format;

namespace {

error damaged(const fs::path& path, const std::string& why) {
    return make_error(errc::io_error, "the Raft log file " + path.string() + " is damaged: " + why);
}

// A name with a 20-digit index after `prefix`, or nothing.
std::optional<uint64_t> index_in_name(const std::string& name, const char* prefix) {
    const size_t n = std::strlen(prefix);
    if (name.size() != n + 20 || name.compare(0, n, prefix) != 0) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = n; i < name.size(); ++i) {
        if (name[i] < '0' || name[i] > '9') return std::nullopt;
        const uint64_t digit = static_cast<uint64_t>(name[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
        v = v * 10 + digit;
    }
    return v;
}

// The indexes in the names of `dir`'s files that start with `prefix`, in increasing order.
std::vector<uint64_t> indexes_in(const fs::path& dir, const char* prefix, std::error_code& ec) {
    std::vector<uint64_t> found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (auto i = index_in_name(it->path().filename().string(), prefix)) found.push_back(*i);
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::string indexed_name(const char* prefix, uint64_t index) {
    std::string digits = std::to_string(index);
    return prefix + std::string(20 - digits.size(), '0') + digits;
}

result<std::vector<std::byte>> read_whole(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open", path);
    std::vector<std::byte> bytes;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error e = os_error("cannot stat", path);
        ::close(fd);
        return e;
    }
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n =
            ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error e = n < 0 ? os_error("cannot read", path) : damaged(path, "shorter than stated");
            ::close(fd);
            return e;
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return bytes;
}

bool holds_raft_uv_files(const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir / "metadata1", ec) || fs::exists(dir / "metadata2", ec);
}

}  // namespace

// ---- the vote ----

result<stored_raft_vote> read_raft_vote(const fs::path& dir) {
    std::optional<stored_raft_vote> newest;
    std::optional<error> damage;
    for (const char* name : fmt_::k_vote_files) {
        const fs::path path = dir / name;
        std::error_code ec;
        if (!fs::exists(path, ec)) continue;
        auto bytes = read_whole(path);
        if (!bytes) return bytes.err();
        const std::vector<std::byte>& b = bytes.value();
        if (b.size() != fmt_::k_vote_bytes ||
            core::load_le<uint32_t>(b.data()) != fmt_::k_vote_magic ||
            core::load_le<uint32_t>(b.data() + 4) != fmt_::k_version ||
            core::load_le<uint32_t>(b.data() + 32) != crc32c(b.data(), 32)) {
            // A write a crash cut short: the other file holds the vote before it.
            damage = damaged(path, "not a vote file of version 1, or its checksum does not match");
            continue;
        }
        const stored_raft_vote v{
            {core::load_le<uint64_t>(b.data() + 16), core::load_le<uint64_t>(b.data() + 24)},
            core::load_le<uint64_t>(b.data() + 8)};
        if (!newest || v.sequence > newest->sequence) newest = v;
    }
    if (newest) return *newest;
    // Only raft-vote-1 exists, and it is torn: the very first write, never acknowledged
    // (raft-vote-2 is created, with a directory sync, by the second). Nothing was stored.
    std::error_code ec;
    if (damage && !fs::exists(dir / fmt_::k_vote_files[0], ec)) return stored_raft_vote{};
    if (damage) return *damage;
    return stored_raft_vote{};
}

status write_raft_vote(const fs::path& dir, raft_vote vote, uint64_t sequence) {
    std::array<std::byte, fmt_::k_vote_bytes> b{};
    core::store_le<uint32_t>(b.data(), fmt_::k_vote_magic);
    core::store_le<uint32_t>(b.data() + 4, fmt_::k_version);
    core::store_le<uint64_t>(b.data() + 8, sequence);
    core::store_le<uint64_t>(b.data() + 16, vote.term);
    core::store_le<uint64_t>(b.data() + 24, vote.voted_for);
    core::store_le<uint32_t>(b.data() + 32, crc32c(b.data(), 32));
    const fs::path path = dir / fmt_::k_vote_files[sequence % 2];
    std::error_code ec;
    const bool created = !fs::exists(path, ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("cannot open", path);
    std::vector<struct iovec> iov{{b.data(), b.size()}};
    status s = write_all(fd, iov, 0, path);
    if (s && ::ftruncate(fd, static_cast<off_t>(b.size())) != 0) s = os_error("cannot size", path);
    if (s) s = sync_fd(fd, path, true);
    if (::close(fd) != 0 && s) s = os_error("cannot close", path);
    if (s && created) s = sync_directory(dir);
    return s;
}

// ---- the log ----

struct raft_log_store::segment {
    uint64_t first = 0;  // index of its first entry
    fs::path path;
    std::vector<uint64_t> offsets;      // where each entry's record starts
    uint64_t end = 0;                   // bytes of the file in use
    std::vector<struct iovec> pending;  // written by write_pending
    std::vector<std::array<std::byte, fmt_::k_record_header_bytes>>
        heads;  // what pending points at
    std::array<std::byte, fmt_::k_segment_header_bytes> file_head{};

    uint64_t count() const noexcept { return offsets.size(); }
};

raft_log_store::raft_log_store(fs::path dir, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

raft_log_store::~raft_log_store() {
    if (fd_ >= 0) ::close(fd_);
}

bool raft_log_store::is_new(const fs::path& dir) {
    std::error_code ec;
    // A bootstrap writes the vote of term 1 first, then the configuration: a vote of term 1
    // with no vote cast and no log is a bootstrap a crash cut short, to be done again.
    auto stored = read_raft_vote(dir);
    if (!stored) return false;
    if (stored.value().vote.term > 1 || stored.value().vote.voted_for != 0) return false;
    // A segment shorter than its header and one record is a bootstrap's entry a crash cut
    // short (open() removes it): not yet a log.
    for (uint64_t first : indexes_in(dir, fmt_::k_segment_prefix, ec)) {
        const auto size = fs::file_size(dir / indexed_name(fmt_::k_segment_prefix, first), ec);
        if (ec || size >= fmt_::k_segment_header_bytes + fmt_::k_record_header_bytes) return false;
    }
    return indexes_in(dir, fmt_::k_snapshot_prefix, ec).empty();
}

result<std::unique_ptr<raft_log_store>> raft_log_store::open(const fs::path& dir,
                                                             uint64_t segment_bytes) {
    ES_ASSERT(segment_bytes > 0);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return make_error(errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    if (is_new(dir) && holds_raft_uv_files(dir)) {
        return make_error(errc::io_error,
                          "the Raft group directory " + dir.string() +
                              " was written by an older eventstream (libraft's raft_uv log), "
                              "which this version does not read; start the node on a new data "
                              "directory and let the group catch it up");
    }
    std::unique_ptr<raft_log_store> store(new raft_log_store(dir, segment_bytes));
    ES_TRY(store->load());
    return store;
}

status raft_log_store::load() {
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.ends_with(fmt_::k_tmp_suffix) && (name.starts_with(fmt_::k_segment_prefix) ||
                                                   name.starts_with(fmt_::k_snapshot_prefix))) {
            fs::remove(it->path(), ec);
        }
    }
    if (ec) return make_error(errc::io_error, "cannot list " + dir_.string() + ": " + ec.message());
    ES_TRY(load_snapshot());
    ES_TRY(load_segments());
    // What a crash left may be in the page cache only (written, never synced): it becomes
    // durable now, before libraft reports any of it as stored.
    fd_dirty_ = fd_ >= 0;
    dir_dirty_ = true;
    return sync();
}

status raft_log_store::load_snapshot() {
    std::error_code ec;
    const std::vector<uint64_t> found = indexes_in(dir_, fmt_::k_snapshot_prefix, ec);
    if (ec) return make_error(errc::io_error, "cannot list " + dir_.string() + ": " + ec.message());
    if (found.empty()) return {};
    const fs::path path = dir_ / indexed_name(fmt_::k_snapshot_prefix, found.back());
    auto bytes = read_whole(path);
    if (!bytes) return bytes.err();
    const std::vector<std::byte>& b = bytes.value();
    const size_t fixed = fmt_::k_snapshot_header_bytes + fmt_::k_snapshot_trailer_bytes;
    if (b.size() < fixed || core::load_le<uint32_t>(b.data()) != fmt_::k_snapshot_magic ||
        core::load_le<uint32_t>(b.data() + 4) != fmt_::k_version) {
        return damaged(path, "not a snapshot of version 1");
    }
    const uint64_t conf_bytes = core::load_le<uint32_t>(b.data() + 32);
    const uint64_t data_bytes = core::load_le<uint64_t>(b.data() + 40);
    if (conf_bytes > b.size() - fixed || data_bytes != b.size() - fixed - conf_bytes) {
        return damaged(path, "its sizes do not add up to the file's");
    }
    const size_t body = b.size() - fmt_::k_snapshot_trailer_bytes;
    if (core::load_le<uint32_t>(b.data() + body) != crc32c(b.data(), body)) {
        return damaged(path, "its checksum does not match");
    }
    raft_snapshot_record s;
    s.index = core::load_le<uint64_t>(b.data() + 8);
    s.term = core::load_le<uint64_t>(b.data() + 16);
    s.configuration_index = core::load_le<uint64_t>(b.data() + 24);
    if (s.index != found.back()) return damaged(path, "its index is not the one in its name");
    const std::byte* p = b.data() + fmt_::k_snapshot_header_bytes;
    const std::byte* conf_end = p + conf_bytes;
    if (conf_end - p < 4) return damaged(path, "its configuration is cut short");
    const uint32_t servers = core::load_le<uint32_t>(p);
    p += 4;
    for (uint32_t i = 0; i < servers; ++i) {
        if (conf_end - p < 11) return damaged(path, "its configuration is cut short");
        snapshot_server server;
        server.id = core::load_le<uint64_t>(p);
        server.role = std::to_integer<uint8_t>(p[8]);
        const uint16_t address_bytes = core::load_le<uint16_t>(p + 9);
        p += 11;
        if (conf_end - p < address_bytes) return damaged(path, "its configuration is cut short");
        server.address.assign(reinterpret_cast<const char*>(p), address_bytes);
        p += address_bytes;
        s.configuration.push_back(std::move(server));
    }
    if (p != conf_end) return damaged(path, "its configuration has bytes left over");
    s.data.assign(conf_end, conf_end + data_bytes);
    snapshot_ = std::move(s);
    // Older snapshots are left only by a crash between a rename and their removal.
    for (size_t i = 0; i + 1 < found.size(); ++i) {
        fs::remove(dir_ / indexed_name(fmt_::k_snapshot_prefix, found[i]), ec);
        dir_dirty_ = true;
    }
    return {};
}

status raft_log_store::load_segments() {
    std::error_code ec;
    const std::vector<uint64_t> firsts = indexes_in(dir_, fmt_::k_segment_prefix, ec);
    if (ec) return make_error(errc::io_error, "cannot list " + dir_.string() + ": " + ec.message());
    uint64_t last_term = 0;
    std::optional<uint64_t> term_at_snapshot;
    for (size_t n = 0; n < firsts.size(); ++n) {
        const bool last = n + 1 == firsts.size();
        segment seg;
        seg.first = firsts[n];
        seg.path = dir_ / indexed_name(fmt_::k_segment_prefix, seg.first);
        auto bytes = read_whole(seg.path);
        if (!bytes) return bytes.err();
        const std::vector<std::byte>& b = bytes.value();
        const bool head_ok = b.size() >= fmt_::k_segment_header_bytes &&
                             core::load_le<uint32_t>(b.data()) == fmt_::k_segment_magic &&
                             core::load_le<uint32_t>(b.data() + 4) == fmt_::k_version &&
                             core::load_le<uint64_t>(b.data() + 8) == seg.first;
        uint64_t at = fmt_::k_segment_header_bytes;
        bool torn = !head_ok;
        while (head_ok && at < b.size()) {
            const uint64_t index = seg.first + seg.count();
            if (b.size() - at < fmt_::k_record_header_bytes) {
                torn = true;
                break;
            }
            const std::byte* h = b.data() + at;
            const uint64_t size = core::load_le<uint32_t>(h + 4);
            if (size > b.size() - at - fmt_::k_record_header_bytes ||
                core::load_le<uint64_t>(h + 8) != index ||
                core::load_le<uint32_t>(h) !=
                    crc32c(h + fmt_::k_record_header_bytes, size,
                           crc32c(h + 4, fmt_::k_record_header_bytes - 4))) {
                torn = true;
                break;
            }
            // Terms never go down along a log: a lower one is the end of what a truncation
            // replaced, left by a crash.
            const uint64_t term = core::load_le<uint64_t>(h + 16);
            if (term < last_term) {
                torn = true;
                break;
            }
            last_term = term;
            if (snapshot_ && index == snapshot_->index) term_at_snapshot = term;
            seg.offsets.push_back(at);
            at += fmt_::k_record_header_bytes + size;
        }
        if (torn && !last) return damaged(seg.path, "a record is cut short or altered");
        if (!segments_.empty()) {
            const segment& prev = segments_.back();
            if (seg.first != prev.first + prev.count()) {
                return damaged(seg.path, "it does not follow on from the segment before it");
            }
        }
        if (seg.offsets.empty()) {
            // A last segment cut short before its first record was whole: a crash while it
            // was begun. Nothing in it was acknowledged.
            if (!last) return damaged(seg.path, "it holds no entry");
            spdlog::warn(
                "Raft log {}: removing {}, begun but cut short by a crash before its "
                "first entry was whole",
                dir_.string(), seg.path.filename().string());
            fs::remove(seg.path, ec);
            if (ec) return os_error("cannot remove", seg.path, ec.value());
            dir_dirty_ = true;
            break;
        }
        seg.end = at;
        if (torn) {
            spdlog::warn(
                "Raft log {}: cutting {} at byte {} of {}: the rest was written by a "
                "crash's last write or a truncation it interrupted",
                dir_.string(), seg.path.filename().string(), at, b.size());
            // The torn record was never acknowledged: its write had not been synced.
            if (::truncate(seg.path.c_str(), static_cast<off_t>(at)) != 0) {
                return os_error("cannot cut the torn end off", seg.path);
            }
            const int fd = ::open(seg.path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0) return os_error("cannot open", seg.path);
            status s = sync_fd(fd, seg.path, false);
            ::close(fd);
            ES_TRY(std::move(s));
        }
        segments_.push_back(std::move(seg));
    }
    if (ec) return make_error(errc::io_error, "cannot list " + dir_.string() + ": " + ec.message());

    uint64_t first = segments_.empty() ? 0 : segments_.front().first;
    uint64_t next = segments_.empty() ? 0 : segments_.back().first + segments_.back().count();
    if (snapshot_) {
        if (!segments_.empty() && (next <= snapshot_->index ||
                                   (term_at_snapshot && *term_at_snapshot != snapshot_->term))) {
            // A snapshot installed from the leader replaced this log, and a crash came before
            // the log was removed: every entry is older than the snapshot, or the log holds
            // another entry at the snapshot's place.
            spdlog::warn("Raft log {}: removing the log that the snapshot at {} replaced",
                         dir_.string(), snapshot_->index);
            ES_TRY(remove_segment_files(0, segments_.size()));
            segments_.clear();
        } else if (!segments_.empty() && first > snapshot_->index + 1) {
            return damaged(segments_.front().path, "entries between the snapshot at " +
                                                       std::to_string(snapshot_->index) +
                                                       " and this segment are missing");
        }
        if (segments_.empty()) first = next = snapshot_->index + 1;
    } else if (!segments_.empty() && first != 1) {
        return damaged(segments_.front().path,
                       "the log does not begin at 1 and no snapshot "
                       "covers the entries before it");
    }
    first_index_ = segments_.empty() ? (snapshot_ ? snapshot_->index + 1 : 1) : first;
    next_index_ = segments_.empty() ? first_index_ : next;
    if (!segments_.empty()) {
        const segment& seg = segments_.back();
        fd_ = ::open(seg.path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd_ < 0) return os_error("cannot open", seg.path);
    }
    return {};
}

status raft_log_store::for_each_entry(
    const std::function<void(uint64_t, uint64_t, uint8_t, std::span<const std::byte>)>& fn) const {
    ES_TRY(check_usable());
    for (const segment& seg : segments_) {
        auto bytes = read_whole(seg.path);
        if (!bytes) return bytes.err();
        const std::vector<std::byte>& b = bytes.value();
        if (b.size() < seg.end) return damaged(seg.path, "it is shorter than when it was opened");
        for (size_t i = 0; i < seg.offsets.size(); ++i) {
            const std::byte* h = b.data() + seg.offsets[i];
            const uint64_t size = core::load_le<uint32_t>(h + 4);
            if (size > b.size() - seg.offsets[i] - fmt_::k_record_header_bytes) {
                return damaged(seg.path, "a record changed after the log was opened");
            }
            const std::byte* data = h + fmt_::k_record_header_bytes;
            if (core::load_le<uint32_t>(h) !=
                crc32c(data, size, crc32c(h + 4, fmt_::k_record_header_bytes - 4))) {
                return damaged(seg.path, "a record changed after the log was opened");
            }
            fn(seg.first + i, core::load_le<uint64_t>(h + 16), std::to_integer<uint8_t>(h[24]),
               {data, size});
        }
    }
    return {};
}

status raft_log_store::check_usable() const {
    if (failed_) {
        return make_error(errc::io_error, "the Raft log in " + dir_.string() +
                                              " failed earlier: " + failed_->message);
    }
    return {};
}

status raft_log_store::fail(error e) {
    if (!failed_) failed_ = e;
    return e;
}

status raft_log_store::begin_segment(uint64_t first) {
    segment seg;
    seg.first = first;
    seg.path = dir_ / indexed_name(fmt_::k_segment_prefix, first);
    const int fd = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("cannot create", seg.path);
    fd_ = fd;
    dir_dirty_ = true;
    fd_dirty_ = true;
    core::store_le<uint32_t>(seg.file_head.data(), fmt_::k_segment_magic);
    core::store_le<uint32_t>(seg.file_head.data() + 4, fmt_::k_version);
    core::store_le<uint64_t>(seg.file_head.data() + 8, first);
    seg.end = 0;
    segments_.push_back(std::move(seg));
    // Points into the segment where it now stays (`pending` is written before another
    // segment is begun).
    segment& placed = segments_.back();
    placed.pending.push_back({placed.file_head.data(), placed.file_head.size()});
    return {};
}

status raft_log_store::close_current(bool sync_first) {
    if (fd_ < 0) return {};
    status s;
    if (sync_first && fd_dirty_) s = sync_fd(fd_, segments_.back().path, true);
    ::close(fd_);
    fd_ = -1;
    fd_dirty_ = false;
    return s;
}

status raft_log_store::write_pending() {
    if (segments_.empty()) return {};
    segment& seg = segments_.back();
    if (seg.pending.empty()) return {};
    uint64_t bytes = 0;
    for (const auto& v : seg.pending) bytes += v.iov_len;
    status s = write_all(fd_, seg.pending, seg.end, seg.path);
    seg.pending.clear();
    seg.heads.clear();
    fd_dirty_ = true;
    if (!s) return s;
    seg.end += bytes;
    return {};
}

status raft_log_store::append(std::span<const raft_log_entry> entries) {
    ES_TRY(check_usable());
    for (const raft_log_entry& e : entries) {
        if (e.data.size() > fmt_::k_entry_bytes_max) {
            return fail(make_error(errc::too_large, "a Raft entry of " +
                                                        std::to_string(e.data.size()) +
                                                        " bytes is larger than the log takes"));
        }
    }
    size_t i = 0;
    while (i < entries.size()) {
        if (segments_.empty() || fd_ < 0 ||
            (segments_.back().end >= segment_bytes_ && segments_.back().pending.empty())) {
            if (status s = close_current(true); !s) return fail(s.err());
            if (status s = begin_segment(next_index_); !s) return fail(s.err());
        }
        segment& seg = segments_.back();
        // Where the next record starts: a new segment's file header is pending before it.
        uint64_t projected = seg.end;
        for (const auto& v : seg.pending) projected += v.iov_len;
        // Room for every header up front: `pending` points into `heads`.
        seg.heads.reserve(entries.size() - i);
        // Entries go into this segment until it is full (a segment holds one entry at least).
        size_t taken = 0;
        while (i < entries.size() && (taken == 0 || projected < segment_bytes_)) {
            const raft_log_entry& e = entries[i];
            auto& h = seg.heads.emplace_back();
            h.fill(std::byte{0});
            core::store_le<uint32_t>(h.data() + 4, static_cast<uint32_t>(e.data.size()));
            core::store_le<uint64_t>(h.data() + 8, next_index_);
            core::store_le<uint64_t>(h.data() + 16, e.term);
            h[24] = std::byte{e.type};
            core::store_le<uint32_t>(h.data(),
                                     crc32c(e.data.data(), e.data.size(),
                                            crc32c(h.data() + 4, fmt_::k_record_header_bytes - 4)));
            seg.offsets.push_back(projected);
            seg.pending.push_back({h.data(), h.size()});
            if (!e.data.empty()) {
                seg.pending.push_back({const_cast<std::byte*>(e.data.data()), e.data.size()});
            }
            projected += fmt_::k_record_header_bytes + e.data.size();
            ++next_index_;
            ++i;
            ++taken;
        }
        if (status s = write_pending(); !s) return fail(s.err());
    }
    return {};
}

status raft_log_store::remove_segment_files(size_t from, size_t to) {
    for (size_t n = from; n < to; ++n) {
        if (::unlink(segments_[n].path.c_str()) != 0 && errno != ENOENT) {
            return os_error("cannot remove", segments_[n].path);
        }
        dir_dirty_ = true;
    }
    return {};
}

status raft_log_store::truncate(uint64_t index) {
    ES_TRY(check_usable());
    ES_ASSERT_MSG(index >= first_index_ && index <= next_index_,
                  "libraft truncates only entries the log holds");
    if (index == next_index_) return {};
    // The first segment that keeps nothing: every one from it on goes.
    size_t keep = segments_.size();
    while (keep > 0 && segments_[keep - 1].first >= index) --keep;
    if (keep < segments_.size()) {
        if (status s = close_current(false); !s) return fail(s.err());
        if (status s = remove_segment_files(keep, segments_.size()); !s) return fail(s.err());
        segments_.erase(segments_.begin() + static_cast<ptrdiff_t>(keep), segments_.end());
        if (!segments_.empty()) {
            fd_ = ::open(segments_.back().path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd_ < 0) return fail(os_error("cannot open", segments_.back().path));
        }
    }
    if (!segments_.empty()) {
        segment& seg = segments_.back();
        const uint64_t kept = index - seg.first;
        if (kept < seg.count()) {
            const uint64_t cut = seg.offsets[kept];
            if (::ftruncate(fd_, static_cast<off_t>(cut)) != 0) {
                return fail(os_error("cannot truncate", seg.path));
            }
            seg.offsets.resize(kept);
            seg.end = cut;
            fd_dirty_ = true;
        }
    }
    next_index_ = index;
    if (segments_.empty()) first_index_ = index;
    // Durable before the entries that take the dropped ones' places are written: a crash must
    // not find the new entries with the old ones still behind them (truncations are rare).
    return sync();
}

status raft_log_store::sync_dir() {
    if (!dir_dirty_) return {};
    ES_TRY(sync_directory(dir_));
    dir_dirty_ = false;
    return {};
}

status raft_log_store::sync() {
    ES_TRY(check_usable());
    if (fd_ >= 0 && fd_dirty_) {
        if (status s = sync_fd(fd_, segments_.back().path, true); !s) return fail(s.err());
        fd_dirty_ = false;
    }
    if (status s = sync_dir(); !s) return fail(s.err());
    return {};
}

status raft_log_store::put_snapshot(raft_snapshot_record snapshot, uint64_t trailing) {
    ES_TRY(check_usable());
    // Every entry before the snapshot's own place must be on disk before the log depends on
    // the snapshot; the append path synced them already, this covers a truncate since.
    ES_TRY(sync());
    std::vector<std::byte> b(fmt_::k_snapshot_header_bytes);
    core::store_le<uint32_t>(b.data(), fmt_::k_snapshot_magic);
    core::store_le<uint32_t>(b.data() + 4, fmt_::k_version);
    core::store_le<uint64_t>(b.data() + 8, snapshot.index);
    core::store_le<uint64_t>(b.data() + 16, snapshot.term);
    core::store_le<uint64_t>(b.data() + 24, snapshot.configuration_index);
    core::append_le<uint32_t>(b, static_cast<uint32_t>(snapshot.configuration.size()));
    for (const snapshot_server& server : snapshot.configuration) {
        ES_ASSERT(server.address.size() <= fmt_::k_address_bytes_max);
        core::append_le<uint64_t>(b, server.id);
        b.push_back(std::byte{server.role});
        core::append_le<uint16_t>(b, static_cast<uint16_t>(server.address.size()));
        const auto* a = reinterpret_cast<const std::byte*>(server.address.data());
        b.insert(b.end(), a, a + server.address.size());
    }
    core::store_le<uint32_t>(b.data() + 32,
                             static_cast<uint32_t>(b.size() - fmt_::k_snapshot_header_bytes));
    core::store_le<uint64_t>(b.data() + 40, snapshot.data.size());
    b.insert(b.end(), snapshot.data.begin(), snapshot.data.end());
    core::append_le<uint32_t>(b, crc32c(b.data(), b.size()));
    const fs::path path = dir_ / indexed_name(fmt_::k_snapshot_prefix, snapshot.index);
    if (status s = replace_file(path, b, fmt_::k_tmp_suffix); !s) return fail(s.err());

    if (snapshot_ && snapshot_->index != snapshot.index) {
        const fs::path old = dir_ / indexed_name(fmt_::k_snapshot_prefix, snapshot_->index);
        if (::unlink(old.c_str()) != 0 && errno != ENOENT) {
            return fail(os_error("cannot remove", old));
        }
        dir_dirty_ = true;
    }
    const uint64_t index = snapshot.index;
    snapshot_ = std::move(snapshot);
    if (trailing == 0) {
        // Installed from the leader: the snapshot replaces the whole log.
        if (status s = close_current(false); !s) return fail(s.err());
        if (status s = remove_segment_files(0, segments_.size()); !s) return fail(s.err());
        segments_.clear();
        first_index_ = next_index_ = index + 1;
    } else if (index > trailing) {
        // Whole segments whose last entry is at or before index - trailing go; never the last.
        const uint64_t keep_from = index - trailing + 1;
        size_t drop = 0;
        while (drop + 1 < segments_.size() && segments_[drop + 1].first <= keep_from) ++drop;
        if (status s = remove_segment_files(0, drop); !s) return fail(s.err());
        segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(drop));
        if (!segments_.empty()) first_index_ = segments_.front().first;
    }
    return sync();
}

}  // namespace es::replication
