# Shell helpers for the system benchmarks (sourced): a fresh eventstream node on ports the OS
# picks, with its data in a temporary directory, stopped when the script exits.
#   bench_start_node [flags...]   starts it; sets BENCH_WORK, BENCH_NODE_PID and the ports
#                                 BENCH_HTTP, BENCH_GRPC, BENCH_NATIVE
#   bench_port_of NAME            a port from ports.json
#   bench_free_port               a loopback TCP port free a moment ago
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/es-bench.XXXXXX")
BENCH_NODE_PID=""
BENCH_PIDS=()

bench_cleanup() {
    for pid in "$BENCH_NODE_PID" "${BENCH_PIDS[@]}"; do
        # A reference server killed by the signal exits non-zero: not this script's failure.
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$BENCH_WORK"
}
trap bench_cleanup EXIT

bench_port_of() {
    python3 -c "import json; print(json.load(open('$BENCH_WORK/data/ports.json'))['$1'])"
}

bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_start_node() {
    build/bin/eventstream --data-dir "$BENCH_WORK/data" --http-port 0 --grpc-port 0 \
        --native-port 0 --cluster-port 0 --log-level warn "$@" >"$BENCH_WORK/server.log" 2>&1 &
    BENCH_NODE_PID=$!
    for _ in $(seq 300); do [ -s "$BENCH_WORK/data/ports.json" ] && break; sleep 0.1; done
    [ -s "$BENCH_WORK/data/ports.json" ] || { cat "$BENCH_WORK/server.log" >&2; return 1; }
    BENCH_HTTP=$(bench_port_of http)
    BENCH_GRPC=$(bench_port_of grpc)
    BENCH_NATIVE=$(bench_port_of native)
}
