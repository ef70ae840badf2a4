#!/usr/bin/env bash
# gRPC benchmark (run by `scripts/bench grpc`): against a fresh node, bench/grpc_bench measures
# unary SubmitEvent (calls/s with 64 in flight; latency at a fixed moderate rate, counted from
# each call's intended send time) and StreamEvents throughput with 128 B events (100 per
# message, and 1 per message); in the same run `esctl bench` measures our native protocol on
# the same node for comparison, and gRPC's own floor: the same paced calls against a server in
# grpc_bench that answers at once with nothing behind it. Extra arguments go to grpc_bench.
# Last line: one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/node_lib.sh

seconds=${ES_GRPC_BENCH_SECONDS:-3}
rate=${ES_GRPC_BENCH_RATE:-2000}
bench_start_node

ms=$((seconds * 1000))
unary=$(build/bin/grpc_bench --target "127.0.0.1:$BENCH_GRPC" --duration-ms "$ms" \
    --modes unary-max,unary-rate,floor --rate "$rate" "$@" | tee /dev/stderr | tail -1)
stream=$(build/bin/grpc_bench --target "127.0.0.1:$BENCH_GRPC" --duration-ms "$ms" \
    --modes stream --topic grpc-stream "$@" | tee /dev/stderr | tail -1)
stream1=$(build/bin/grpc_bench --target "127.0.0.1:$BENCH_GRPC" --duration-ms "$ms" \
    --modes stream --batch 1 --topic grpc-stream1 "$@" | tee /dev/stderr | tail -1)
native=$(build/bin/esctl --server "127.0.0.1:$BENCH_NATIVE" bench --topic native-cmp \
    -d "$seconds" --json 2>/dev/null)

python3 - "$unary" "$stream" "$stream1" "$native" <<'PY'
import json, sys
unary, stream, stream1, native = (json.loads(a) for a in sys.argv[1:5])
native_rate = native["produce"]["events_per_s"]
print(f"native protocol (esctl bench, same node): {native_rate:,.0f} events/s, "
      f"ack p99 {native['produce']['ack_latency']['p99_us']:.0f} us")
print(f"unary at {unary['unary_rate']:.0f}/s: p99 {unary['unary_p99_ns'] / 1e3:.0f} us; gRPC alone "
      f"(floor) p99 {unary['floor_p99_ns'] / 1e3:.0f} us; ours / floor "
      f"{unary['unary_p99_ns'] / unary['floor_p99_ns']:.2f}x")
print(f"gRPC StreamEvents / native: {stream['stream_per_s'] / native_rate:.2f}x "
      f"(batches of {stream['stream_batch']}), "
      f"{stream1['stream_per_s'] / native_rate:.2f}x (one event per message)")
print(json.dumps({"grpc_unary": unary, "grpc_stream": stream, "grpc_stream_single": stream1,
                  "native": {"events_per_s": native_rate,
                             "ack_p99_us": native["produce"]["ack_latency"]["p99_us"]}}))
PY
