#!/usr/bin/env bash
# Native protocol against NATS (run by `scripts/bench native`): nats-server and a fresh
# eventstream node on loopback, the same workloads against both in one run:
#   1. one publisher, 128 B and 1 KiB: NATS publishes (stores nothing without a subscriber); we
#      append every event to its partition and acknowledge it (acks=leader).
#   2. one publisher and one subscriber, 128 B: events delivered per second.
#   3. one publisher and one subscriber at a fixed rate (ES_NATIVE_BENCH_RATE, 128 B): latency
#      from each message's due time to its receipt by the subscriber, p50/p99/p99.9.
# NATS is driven by bench/nats_bench (libnats), ours by `esctl bench`. Prints both figures and
# their ratio; the last line is one JSON object. In the throughput workloads our producer keeps
# ES_NATIVE_BENCH_IN_FLIGHT (8) batches in flight per partition (NATS's publisher never waits
# for the server at all), and times the ack and receipt of every 16th event
# (`--latency-every 16`): NATS's publisher reads no clock per message beyond the one stamp
# both take, having no acks. The subscriber's topic keeps 4 GiB (more than the run publishes):
# the producer may outrun the one subscriber, which must still find every event in the
# partition, not a gap (the run fails if an acknowledged event was not received); with the
# default 64 MiB the subscriber fell behind the retention. The fixed-rate workload times every
# event, and our producer sends a batch at once when its partition has none out, lingering (up
# to 0.5 ms) only while one is (`--send-when-idle`; with a plain linger a batch's first event
# waits the whole linger, which was most of the p50). NATS's client, too, writes without a
# linger.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/node_lib.sh

seconds=${ES_NATIVE_BENCH_SECONDS:-3}
rate=${ES_NATIVE_BENCH_RATE:-50000}
in_flight=${ES_NATIVE_BENCH_IN_FLIGHT:-8}
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_bin" ] || { echo "native bench: nats-server not found; scripts/setup installs it" >&2; exit 1; }

nats_port=$(bench_free_port)
"$nats_bin" -a 127.0.0.1 -p "$nats_port" >"$BENCH_WORK/nats.log" 2>&1 &
BENCH_PIDS+=($!)
bench_start_node
sleep 0.5
nats_url="nats://127.0.0.1:$nats_port"
ms=$((seconds * 1000))

results=()
for size in 128 1024; do
    results+=("$(build/bin/nats_bench --url "$nats_url" --mode pub --size "$size" --duration-ms "$ms")")
    results+=("$(build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" bench --topic "pub$size" \
        -s "$size" -d "$seconds" --in-flight "$in_flight" --latency-every 16 --json 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')")
done
results+=("$(build/bin/nats_bench --url "$nats_url" --mode pubsub --size 128 --duration-ms "$ms")")
build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" topic create pubsub \
    --retention-bytes $((4 << 30)) >/dev/null
results+=("$(build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" bench --topic pubsub \
    -s 128 -d "$seconds" --consumers 1 --in-flight "$in_flight" --latency-every 16 --json 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')")
results+=("$(build/bin/nats_bench --url "$nats_url" --mode latency --size 128 --rate "$rate" --duration-ms "$ms")")
results+=("$(build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" bench --topic latency \
    -s 128 -d "$seconds" --consumers 1 --rate "$rate" --linger-ms 0.5 --send-when-idle --json 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')")

python3 - "${results[@]}" <<'PY'
import json, sys
r = [json.loads(a) for a in sys.argv[1:]]
nats_pub128, ours_pub128, nats_pub1k, ours_pub1k, nats_ps, ours_ps, nats_lat, ours_lat = r
def line(what, nats, ours):
    print(f"{what:<34} NATS {nats:>12,.0f}/s   eventstream {ours:>12,.0f}/s   ratio {ours / nats:5.2f}x")
line("publish, 128 B", nats_pub128["published_per_s"], ours_pub128["produce"]["events_per_s"])
line("publish, 1 KiB", nats_pub1k["published_per_s"], ours_pub1k["produce"]["events_per_s"])
line("1 pub + 1 sub, 128 B, delivered", nats_ps["delivered_per_s"], ours_ps["consume"]["events_per_s"])
ol = ours_lat["consume"]["end_to_end_latency"]
print(f"latency at {nats_lat['rate']:,.0f}/s, publish to receipt:  "
      f"NATS p50 {nats_lat['p50_ns']/1e3:.0f} us p99 {nats_lat['p99_ns']/1e3:.0f} us "
      f"p99.9 {nats_lat['p999_ns']/1e3:.0f} us   eventstream p50 {ol['p50_us']:.0f} us "
      f"p99 {ol['p99_us']:.0f} us p99.9 {ol['p99_9_us']:.0f} us   "
      f"p99 ratio {ol['p99_us'] * 1e3 / nats_lat['p99_ns']:.2f}x")
print(json.dumps({"nats": {"pub128": nats_pub128, "pub1k": nats_pub1k, "pubsub": nats_ps,
                           "latency": nats_lat},
                  "eventstream": {"pub128": ours_pub128["produce"], "pub1k": ours_pub1k["produce"],
                                  "pubsub": ours_ps["consume"],
                                  "latency": ours_lat["consume"]}}))
PY
