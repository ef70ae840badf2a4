#!/usr/bin/env bash
# Native protocol against NATS (run by `scripts/bench native`): nats-server and a fresh
# eventstream node on loopback, the same workloads against both in one run:
#   1. one publisher, 128 B and 1 KiB: NATS publishes (stores nothing without a subscriber); we
#      append every event to its partition and acknowledge it (acks=leader).
#   2. one publisher and one subscriber, 128 B: events delivered per second.
#   3. one publisher and one subscriber at a fixed rate (ES_NATIVE_BENCH_RATE, 128 B): latency
#      from each message's due time to its receipt by the subscriber, p50/p99/p99.9.
# NATS is driven by bench/nats_bench (libnats), ours by `esctl bench`. Each workload runs in
# ES_NATIVE_BENCH_ROUNDS (3) rounds, the two taking turns; prints the median round of both, their
# ratio and every round; the last line is one JSON object. In the throughput workloads our producer keeps
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
# linger. Our node keeps a 2 GiB segment pool filled at start (--segment-pool-pretouch): the
# subscriber's topic grows by about 1 GB a round, and each first write to a fresh page costs
# a fault and its zeroing (in a fresh VM the host's mapping too: 44 % of the worker's time;
# docs/engine.md). A node run without it is measured beside it in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/node_lib.sh

seconds=${ES_NATIVE_BENCH_SECONDS:-3}
rate=${ES_NATIVE_BENCH_RATE:-50000}
in_flight=${ES_NATIVE_BENCH_IN_FLIGHT:-8}
rounds=${ES_NATIVE_BENCH_ROUNDS:-3}
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_bin" ] || { echo "native bench: nats-server not found; scripts/setup installs it" >&2; exit 1; }

nats_port=$(bench_free_port)
"$nats_bin" -a 127.0.0.1 -p "$nats_port" >"$BENCH_WORK/nats.log" 2>&1 &
BENCH_PIDS+=($!)
bench_start_node --segment-pool-bytes $((2 << 30)) --segment-pool-pretouch true
sleep 0.5
nats_url="nats://127.0.0.1:$nats_port"
ms=$((seconds * 1000))

# Each workload runs ES_NATIVE_BENCH_ROUNDS times, NATS and ours taking turns (NATS first in
# odd rounds, ours first in even ones), each of ours on a fresh topic that is deleted after it;
# the median round stands for each figure, and every round is printed. One run of this shared
# machine moves a figure by 10-30 % and a p99 by several times.
# Functions run inside $(...), where bash does not apply `set -e`: each checks its commands
# and returns their failure, which then stops the script at the assignment. esctl bench fails
# (and so the run) when an acknowledged event was not received or an event failed.
esctl_log="$BENCH_WORK/esctl.log"
ours_bench() {  # ours_bench TOPIC [esctl bench flags...]: one JSON line
    local topic=$1 out rc=0
    shift
    out=$(build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" bench --topic "$topic" \
        -d "$seconds" --json "$@" 2>>"$esctl_log") || rc=$?
    build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" topic delete "$topic" \
        >/dev/null 2>>"$esctl_log" || true
    if [ "$rc" -ne 0 ]; then
        echo "native bench: esctl bench on topic $topic failed (exit $rc):" >&2
        tail -n 5 "$esctl_log" >&2
        return "$rc"
    fi
    printf '%s\n' "$out" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))'
}
nats_run() { build/bin/nats_bench --url "$nats_url" --duration-ms "$ms" "$@"; }
ours_run() {  # ours_run WORKLOAD ROUND
    case $1 in
        pub128 | pub1k)
            local size=128
            [ "$1" = pub1k ] && size=1024
            ours_bench "$1-$2" -s "$size" --in-flight "$in_flight" --latency-every 16 ;;
        pubsub)
            build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" topic create "pubsub-$2" \
                --retention-bytes $((4 << 30)) >/dev/null 2>>"$esctl_log" || return 1
            ours_bench "pubsub-$2" -s 128 --consumers 1 --in-flight "$in_flight" \
                --latency-every 16 ;;
        latency)
            ours_bench "latency-$2" -s 128 --consumers 1 --rate "$rate" --linger-ms 0.5 \
                --send-when-idle ;;
    esac
}
nats_of() {  # nats_of WORKLOAD
    case $1 in
        pub128) nats_run --mode pub --size 128 ;;
        pub1k) nats_run --mode pub --size 1024 ;;
        pubsub) nats_run --mode pubsub --size 128 ;;
        latency) nats_run --mode latency --size 128 --rate "$rate" ;;
    esac
}

results=()
for workload in pub128 pub1k pubsub latency; do
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) -eq 1 ]; then
            n=$(nats_of "$workload")
            o=$(ours_run "$workload" "$round")
        else
            o=$(ours_run "$workload" "$round")
            n=$(nats_of "$workload")
        fi
        results+=("{\"workload\": \"$workload\", \"nats\": $n, \"ours\": $o}")
    done
done

python3 - "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
def rounds(workload):
    return [r for r in runs if r["workload"] == workload]
def med(xs):
    return statistics.median(xs)
def fmt(xs):
    return " / ".join(f"{x:,.0f}" for x in xs)
summary = {"rounds": len(rounds("pub128"))}
def line(what, workload, nats_key, ours_of):
    rs = rounds(workload)
    n = [r["nats"][nats_key] for r in rs]
    o = [ours_of(r["ours"]) for r in rs]
    print(f"{what:<34} NATS {med(n):>12,.0f}/s   eventstream {med(o):>12,.0f}/s   "
          f"ratio {med(o) / med(n):5.2f}x   (rounds: NATS {fmt(n)}; ours {fmt(o)})")
    summary[workload] = {"nats": med(n), "eventstream": med(o), "ratio": med(o) / med(n),
                         "nats_rounds": n, "eventstream_rounds": o}
line("publish, 128 B", "pub128", "published_per_s", lambda d: d["produce"]["events_per_s"])
line("publish, 1 KiB", "pub1k", "published_per_s", lambda d: d["produce"]["events_per_s"])
line("1 pub + 1 sub, 128 B, delivered", "pubsub", "delivered_per_s",
     lambda d: d["consume"]["events_per_s"])
rs = rounds("latency")
nl = {q: [r["nats"][q + "_ns"] / 1e3 for r in rs] for q in ("p50", "p99", "p999")}
ol = {q: [r["ours"]["consume"]["end_to_end_latency"][k] for r in rs]
      for q, k in (("p50", "p50_us"), ("p99", "p99_us"), ("p999", "p99_9_us"))}
print(f"latency at {rs[0]['nats']['rate']:,.0f}/s, publish to receipt (medians):  "
      f"NATS p50 {med(nl['p50']):.0f} us p99 {med(nl['p99']):.0f} us "
      f"p99.9 {med(nl['p999']):.0f} us   eventstream p50 {med(ol['p50']):.0f} us "
      f"p99 {med(ol['p99']):.0f} us p99.9 {med(ol['p999']):.0f} us   "
      f"p99 ratio {med(ol['p99']) / med(nl['p99']):.2f}x")
print(f"  p99 rounds (us): NATS {fmt(nl['p99'])}; ours {fmt(ol['p99'])}")
summary["latency"] = {"rate": rs[0]["nats"]["rate"],
                      "nats": {q: med(v) for q, v in nl.items()},
                      "eventstream": {q: med(v) for q, v in ol.items()},
                      "p99_ratio": med(ol["p99"]) / med(nl["p99"]),
                      "nats_p99_rounds": nl["p99"], "eventstream_p99_rounds": ol["p99"]}
print(json.dumps(summary))
PY
