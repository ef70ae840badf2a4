#!/usr/bin/env bash
# Replication benchmark (run by `scripts/bench cluster`): durable publish with acks=all against
# NATS JetStream (file storage) at the same replication, and leader failover time, in one run:
#   1. RF 1: a plain eventstream node (durable topic, 1 partition) at --fsync interval and at
#      --fsync always, against JetStream R1 on one nats-server (-js, file store);
#      RF 3: a 3-node eventstream cluster on loopback (durable topic, 1 partition, RF 3,
#      publishing to the partition's leader) against JetStream R3 on 3 clustered nats-servers
#      (publishing through the stream leader's server). 128 B and 1 KiB events, one publisher:
#      acknowledged events/s as fast as each goes (the ack latency then is the depth of the
#      client's queue: esctl buffers up to 64 MiB, nats_bench --max-pending messages), in
#      ES_CLUSTER_BENCH_ROUNDS rounds that take turns in a rotating order, each on a fresh
#      stream or topic, the median round of each standing for it (the disk still writes back
#      what one run left while the next runs, so a fixed order favours whoever goes first, and
#      every figure starts after a `sync`: the 1 KiB RF 1 runs leave gigabytes to write back,
#      and a Raft log's fsyncs queued behind them cut the RF 3 figure to a third); then ack
#      latency p50/p99 with both publishing at one fixed rate, half of the pair's lower maximum,
#      timed from each event's due time. Ours is `esctl bench --acks all`, JetStream is
#      bench/nats_bench --mode jspub (asynchronous publish acks).
#      JetStream 2.9 acknowledges before its file store fsyncs, so it pairs with our
#      --fsync interval; our cluster's Raft log is always fsynced before an ack (libraft).
#   2. Failover: on a fresh 3-node cluster, ES_CLUSTER_BENCH_FAILOVER_ROUNDS times, kill -9 the
#      partition leader while a publisher sends single acks=all events over HTTP, and time the
#      kill to the first ack at the new leader; the killed node is restarted (same flags and
#      data) before the next round. Once per election timeout in ES_CLUSTER_BENCH_ELECTION_MS.
# Cluster handling, the failover driver and the summary are in bench/cluster_tool.py.
# Prints each pair and the ratio ours/JetStream; the last line is one JSON object.
#   ES_CLUSTER_BENCH_SECONDS         seconds per throughput figure (3)
#   ES_CLUSTER_BENCH_ROUNDS          rounds of each as-fast-as-it-goes figure; the median stands (3)
#   ES_CLUSTER_BENCH_FAILOVER_ROUNDS kills per election timeout (20; 0 skips the failover part)
#   ES_CLUSTER_BENCH_ELECTION_MS     election timeouts to measure failover at ("500 1000"; 500 is the default)
#   ES_CLUSTER_BENCH_JS_PENDING      JetStream publishes in flight at most (1024)
#   ES_CLUSTER_BENCH_IN_FLIGHT       our producer's batches in flight per partition (8)
#   ES_CLUSTER_BENCH_CLUSTER_FSYNC   --fsync of the 3-node cluster's stores (interval: the Raft
#                                    log, fsynced, is what makes an ack durable there)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/node_lib.sh

seconds=${ES_CLUSTER_BENCH_SECONDS:-3}
tp_rounds=${ES_CLUSTER_BENCH_ROUNDS:-3}
rounds=${ES_CLUSTER_BENCH_FAILOVER_ROUNDS:-20}
elections=${ES_CLUSTER_BENCH_ELECTION_MS:-500 1000}
# Our producer's batches in flight per partition (JetStream's window is js_pending publishes).
in_flight=${ES_CLUSTER_BENCH_IN_FLIGHT:-8}
js_pending=${ES_CLUSTER_BENCH_JS_PENDING:-1024}
cluster_fsync=${ES_CLUSTER_BENCH_CLUSTER_FSYNC:-interval}
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_bin" ] || { echo "cluster bench: nats-server not found; scripts/setup installs it" >&2; exit 1; }
ms=$((seconds * 1000))
tool="python3 bench/cluster_tool.py"
results=$BENCH_WORK/results.jsonl  # every figure as {"key", "value"}, for the summary
clusters=()  # data directories of the clusters cluster_tool started
singles=()   # pids of the plain nodes and nats-servers

stop_singles() {
    for pid in "${singles[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true  # wait gives its signal status
    done
    singles=()
}

cleanup() {
    for d in "${clusters[@]}"; do $tool down "$d" || true; done
    stop_singles
    bench_cleanup
}
trap cleanup EXIT

# start_single NAME [flags]: a plain node in $BENCH_WORK/NAME; sets single_http, single_native.
start_single() {
    local name=$1 dir=$BENCH_WORK/$1
    shift
    build/bin/eventstream --data-dir "$dir" --http-port 0 --grpc-port 0 --native-port 0 \
        --cluster-port 0 --log-level warn "$@" >"$BENCH_WORK/$name.log" 2>&1 &
    singles+=($!)
    for _ in $(seq 100); do [ -s "$dir/ports.json" ] && break; sleep 0.1; done
    [ -s "$dir/ports.json" ] || { cat "$BENCH_WORK/$name.log" >&2; return 1; }
    single_http=$(python3 -c "import json; print(json.load(open('$dir/ports.json'))['http'])")
    single_native=$(python3 -c "import json; print(json.load(open('$dir/ports.json'))['native'])")
}

# create_durable HTTP_PORT TOPIC: a durable topic with one partition on a plain node.
create_durable() {
    curl -sf -o /dev/null -XPOST "127.0.0.1:$1/v1/topics" \
        -d "{\"name\":\"$2\",\"partitions\":1,\"storage\":\"durable\"}"
}

# in_turn ROUND CMD...: runs the CMDs (each one word: a function name) starting with the
# ROUND-th, so that over the rounds each goes first, second and last in turn.
in_turn() {
    local round=$1
    shift
    local cmds=("$@") n=$# k
    for ((k = 0; k < n; k++)); do "${cmds[$(((round - 1 + k) % n))]}"; done
}

# ours KEY NATIVE_PORT TOPIC SIZE [RATE]: esctl bench with acks=all, recorded under KEY.
ours() {
    local out
    sync
    out=$(build/bin/esctl --server "127.0.0.1:$2" bench --topic "$3" --acks all -s "$4" \
        -d "$seconds" --in-flight "$in_flight" ${5:+--rate "$5"} --json \
        2>"$BENCH_WORK/esctl.err") ||
        out="esctl failed: $(tail -3 "$BENCH_WORK/esctl.err")"
    $tool record "$results" "$1" "$out"
}

# jetstream KEY URLS NAMES STREAM REPLICAS SIZE [RATE]: nats_bench --mode jspub, recorded.
jetstream() {
    local out
    sync
    out=$(build/bin/nats_bench --url "$2" --names "$3" --mode jspub --stream "$4" \
        --subject "$4.js" --replicas "$5" --size "$6" --duration-ms "$ms" ${7:+--rate "$7"} \
        --max-pending "$js_pending" 2>"$BENCH_WORK/nats_bench.err") ||
        out="nats_bench failed: $(tail -3 "$BENCH_WORK/nats_bench.err") $out"
    $tool record "$results" "$1" "$out"
}

# --- RF 1: one nats-server with JetStream, two plain nodes (fsync interval and always) ---
js1=nats://127.0.0.1:$(bench_free_port)
"$nats_bin" -a 127.0.0.1 -p "${js1##*:}" -js -sd "$BENCH_WORK/js-r1" -n js-r1 \
    >"$BENCH_WORK/js-r1.log" 2>&1 &
singles+=($!)
start_single rf1-interval --fsync interval
interval_http=$single_http interval_native=$single_native
start_single rf1-always --fsync always
always_http=$single_http always_native=$single_native
sleep 0.5
# One round of RF 1 at $size: each figure on a fresh stream or topic; KEY@ROUND in the results.
rf1_js() { jetstream "js_r1_$size@$round" "$js1" js-r1 "R1_${size}_$round" 1 "$size"; }
rf1_interval() {
    create_durable "$interval_http" "rf1_${size}_$round"
    ours "ours_interval_$size@$round" "$interval_native" "rf1_${size}_$round" "$size"
}
rf1_always() {
    create_durable "$always_http" "rf1_${size}_$round"
    ours "ours_always_$size@$round" "$always_native" "rf1_${size}_$round" "$size"
}
for size in 128 1024; do
    for round in $(seq "$tp_rounds"); do
        in_turn "$round" rf1_js rf1_interval rf1_always
    done
    rate=$($tool half-rate "$results" "rate_rf1_$size" \
        "js_r1_$size" "ours_interval_$size" "ours_always_$size")
    [ "$rate" -gt 0 ] || continue
    # Fresh streams and topics for the fixed rate too.
    jetstream "js_r1_${size}_rate" "$js1" js-r1 "R1_${size}_rate" 1 "$size" "$rate"
    create_durable "$interval_http" "rf1_${size}_rate"
    ours "ours_interval_${size}_rate" "$interval_native" "rf1_${size}_rate" "$size" "$rate"
    create_durable "$always_http" "rf1_${size}_rate"
    ours "ours_always_${size}_rate" "$always_native" "rf1_${size}_rate" "$size" "$rate"
done
stop_singles

# --- RF 3: 3 clustered nats-servers (client ports p0..p2, routes p3..p5), 3 of our nodes ---
read -r -a p <<<"$($tool free-ports 6)"
routes="nats-route://127.0.0.1:${p[3]}, nats-route://127.0.0.1:${p[4]}, nats-route://127.0.0.1:${p[5]}"
js_urls="" js_names=""
for i in 0 1 2; do
    cat >"$BENCH_WORK/js$i.conf" <<EOF
server_name: js$i
listen: 127.0.0.1:${p[$i]}
jetstream { store_dir: "$BENCH_WORK/js-r3-$i" }
cluster { name: jsbench, listen: 127.0.0.1:${p[$((i + 3))]}, routes: [$routes] }
EOF
    "$nats_bin" -c "$BENCH_WORK/js$i.conf" >"$BENCH_WORK/js-r3-$i.log" 2>&1 &
    singles+=($!)
    js_urls+="${js_urls:+,}nats://127.0.0.1:${p[$i]}"
    js_names+="${js_names:+,}js$i"
done
rf3=$BENCH_WORK/rf3
clusters+=("$rf3")
$tool up "$rf3" --nodes 3 -- --fsync "$cluster_fsync"
rf3_js() { jetstream "js_r3_$size@$round" "$js_urls" "$js_names" "R3_${size}_$round" 3 "$size"; }
rf3_ours() {
    $tool create-topic "$rf3" "rf3_${size}_$round" --rf 3
    leader_native=$($tool leader "$rf3" "rf3_${size}_$round" --print native_port)
    ours "ours_rf3_$size@$round" "$leader_native" "rf3_${size}_$round" "$size"
}
for size in 128 1024; do
    for round in $(seq "$tp_rounds"); do
        in_turn "$round" rf3_js rf3_ours
    done
    rate=$($tool half-rate "$results" "rate_rf3_$size" "js_r3_$size" "ours_rf3_$size")
    [ "$rate" -gt 0 ] || continue
    jetstream "js_r3_${size}_rate" "$js_urls" "$js_names" "R3_${size}_rate" 3 "$size" "$rate"
    $tool create-topic "$rf3" "rf3_${size}_rate" --rf 3
    leader_native=$($tool leader "$rf3" "rf3_${size}_rate" --print native_port)
    ours "ours_rf3_${size}_rate" "$leader_native" "rf3_${size}_rate" "$size" "$rate"
done
$tool down "$rf3"
stop_singles

# --- Failover, on a fresh cluster per election timeout ---
[ "$rounds" -gt 0 ] || elections=""
for e in $elections; do
    dir=$BENCH_WORK/failover-$e
    clusters+=("$dir")
    $tool up "$dir" --nodes 3 -- --fsync "$cluster_fsync" --raft-election-timeout-ms "$e"
    $tool create-topic "$dir" failover --rf 3
    out=$($tool failover "$dir" failover --rounds "$rounds") || out="failover run failed"
    $tool record "$results" "failover_$e" "$out"
    $tool down "$dir"
done

$tool report "$results" --seconds "$seconds" --rounds "$tp_rounds" --cluster-fsync "$cluster_fsync" \
    --js-pending "$js_pending"
