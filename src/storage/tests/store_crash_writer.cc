// A process for log_store_test's crash tests: it writes to a store, flushes halfway, writes
// more, then dies without closing the store (_exit), so that RocksDB loses its memtables as at
// a kill -9. A process of its own: RocksDB's background threads do not survive a fork.
//   store_crash_writer PATH TOPIC_WAL(0|1)
// Topic 1 "orders": batches of 5 events at offsets 0..99, a flush after offset 49, then the
// group "billing" commits offset 100 for partition 0. Exit status 0 when every call succeeded.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "storage/log_store.h"
#include "storage/tests/store_fixture.h"

int main(int argc, char** argv) {
    using namespace es::storage;
    if (argc != 3) {
        std::fprintf(stderr, "usage: store_crash_writer PATH TOPIC_WAL(0|1)\n");
        return 1;
    }
    const bool topic_wal = std::string(argv[2]) == "1";
    auto opened = log_store::open(store_options{.path = argv[1], .topic_wal = topic_wal});
    if (!opened) return 2;
    log_store& store = **opened;
    constexpr uint64_t orders = 1;
    if (!store.put_topic(es::storage::testing::durable_topic(orders, "orders"))) return 3;
    for (uint64_t i = 0; i < 20; ++i) {
        const auto run = es::storage::testing::simple_run(i * 5, 5);
        const append_batch b = run.to(orders, 0);
        if (!store.append({&b, 1}, false)) return 4;
        if (i == 9 && !store.flush(orders)) return 5;
    }
    if (!store.commit_offset(orders, "billing", 0, 100, false)) return 6;
    ::_exit(0);
}
