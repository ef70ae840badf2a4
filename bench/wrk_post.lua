-- wrk script for `scripts/bench http`: every request is POST <path> with the body in
-- ES_BENCH_BODY (a JSON event), as a producer would send it.
wrk.method = "POST"
wrk.body = os.getenv("ES_BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
