#!/usr/bin/env bash
# HTTP benchmark (run by `scripts/bench http`): POST /v1/events with a 128 B payload against a
# fresh eventstream node, and in the same run nginx returning a fixed 202 on another loopback
# port as this machine's HTTP ceiling.
#   1. max load: wrk (closed loop, ES_HTTP_BENCH_CONNECTIONS connections, 1 thread) against
#      each; requests/s, p50, p99, and our ratio to nginx.
#   2. half load: bench/http_load (open loop, latency counted from each request's intended
#      send time, so without coordinated omission) at half of our max rate, against each.
# Needs build/bin/eventstream and build/bin/http_load. Prints a summary and, last, one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${ES_HTTP_BENCH_SECONDS:-10}
connections=${ES_HTTP_BENCH_CONNECTIONS:-32}
half_connections=${ES_HTTP_BENCH_HALF_CONNECTIONS:-16}
# Worker threads of the node (0: one per CPU, the node's default). The topic gets one partition
# per worker.
workers=${ES_HTTP_BENCH_WORKERS:-0}
[ "$workers" -gt 0 ] || workers=$(nproc)

for tool in wrk nginx; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        { echo "http bench: $tool not found; scripts/setup installs it" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d "${TMPDIR:-/tmp}/es-http-bench.XXXXXX")
server_pid=""
nginx_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# 128 B payload: a JSON string of 126 characters, stored as its 128 bytes of JSON text.
payload=$(head -c 126 /dev/zero | tr '\0' 'x')
export ES_BENCH_BODY="{\"topic\":\"bench\",\"payload\":\"$payload\"}"

# Our node, on ports the OS picks; the topic has one partition per worker.
build/bin/eventstream --data-dir "$work/data" --http-port 0 --grpc-port 0 --native-port 0 \
    --cluster-port 0 --log-level warn --workers "$workers" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/data/ports.json" ] && break; sleep 0.1; done
our_port=$(python3 -c "import json; print(json.load(open('$work/data/ports.json'))['http'])")
curl -sf -XPOST "127.0.0.1:$our_port/v1/topics" \
    -d "{\"name\":\"bench\",\"partitions\":$workers}" >/dev/null

# nginx: a fixed 202 with a body like ours, no logging.
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            default_type application/json;
            return 202 '{"acks":"leader","id":"bench.0.0","offset":0,"partition":0}';
        }
    }
}
CONF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "127.0.0.1:$nginx_port/" && break; sleep 0.1; done

# wrk at max load; prints "rps p50_us p99_us".
wrk_run() {
    local port=$1 out
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -s bench/wrk_post.lua \
        "http://127.0.0.1:$port/v1/events")
    echo "$out" >>"$work/wrk.log"
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    if [ -n "$non2xx" ]; then echo "http bench: $non2xx non-2xx answers from port $port" >&2; fi
    echo "$rps $(to_us "$p50") $(to_us "$p99")"
}
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 0.001;
        printf "%.1f", n * f }'
}

echo "http bench: ${seconds}s per run, wrk 1 thread x $connections connections, 128 B payload," \
    "$workers workers, $(nproc) cpus"
# Warm both up briefly.
wrk -t1 -c"$connections" -d2s -s bench/wrk_post.lua "http://127.0.0.1:$our_port/v1/events" >/dev/null
wrk -t1 -c"$connections" -d2s -s bench/wrk_post.lua "http://127.0.0.1:$nginx_port/v1/events" >/dev/null

read -r ours_rps ours_p50 ours_p99 < <(wrk_run "$our_port")
read -r nginx_rps nginx_p50 nginx_p99 < <(wrk_run "$nginx_port")
ratio=$(awk -v a="$ours_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
printf 'max load   eventstream: %10.0f req/s  p50 %8.1f us  p99 %8.1f us\n' \
    "$ours_rps" "$ours_p50" "$ours_p99"
printf 'max load   nginx 202:   %10.0f req/s  p50 %8.1f us  p99 %8.1f us\n' \
    "$nginx_rps" "$nginx_p50" "$nginx_p99"
echo "ratio eventstream / nginx: $ratio (target >= 0.50)"

half=$(awk -v a="$ours_rps" 'BEGIN { printf "%d", a / 2 }')
ours_half=$(build/bin/http_load --port "$our_port" --body "$ES_BENCH_BODY" --rate "$half" \
    --connections "$half_connections" --seconds "$seconds")
nginx_half=$(build/bin/http_load --port "$nginx_port" --body "$ES_BENCH_BODY" --rate "$half" \
    --connections "$half_connections" --seconds "$seconds")
half_line() {
    python3 -c "import json,sys; d=json.loads(sys.argv[2]); print(f\"half load  {sys.argv[1]:<12} {d['achieved_rate']:10.0f} req/s  p50 {d['latency_us_p50']:8.1f} us  p99 {d['latency_us_p99']:8.1f} us  p99.9 {d['latency_us_p999']:8.1f} us  errors {d['errors']}\")" "$1" "$2"
}
half_line "eventstream:" "$ours_half"
half_line "nginx 202:" "$nginx_half"
python3 -c "import json,sys; d=json.loads(sys.argv[1]); print('p99 at half load: %.1f us (target <= 250 us)' % d['latency_us_p99'])" "$ours_half"

python3 - "$ours_rps" "$ours_p50" "$ours_p99" "$nginx_rps" "$nginx_p50" "$nginx_p99" "$ratio" \
    "$ours_half" "$nginx_half" "$seconds" "$connections" "$workers" <<'PY'
import json, sys
a = sys.argv
print(json.dumps({
    "bench": "http", "seconds": int(a[10]), "connections": int(a[11]), "payload_bytes": 128,
    "workers": int(a[12]),
    "eventstream": {"rps": float(a[1]), "p50_us": float(a[2]), "p99_us": float(a[3])},
    "nginx": {"rps": float(a[4]), "p50_us": float(a[5]), "p99_us": float(a[6])},
    "ratio": float(a[7]),
    "half_load": {"eventstream": json.loads(a[8]), "nginx": json.loads(a[9])},
}))
PY
