# /health throughput of the node against a bare libmicrohttpd server with the same flags and
# thread count (bench/mhd_hello.c), both loaded by wrk with the same settings. The node adds
# routing, request ids, metrics and the auth decision; it must keep >= 0.8 of the bare rate.
# Rounds alternate A/B so drift in the machine's load hits both sides; the best round of each
# is compared.
set -euo pipefail
build=$1
threads=${HZ_BENCH_THREADS:-2}
duration=${HZ_BENCH_SECONDS:-5}
rounds=${HZ_BENCH_ROUNDS:-3}
conns=${HZ_BENCH_CONNECTIONS:-64}
floor=0.8
tmp=$(mktemp -d /tmp/hz-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Reference server.
ref_port=$(free_port)
"$build/bench/mhd_hello" "$ref_port" "$threads" > "$tmp/ref.out" &
pids+=($!)
# The node, on its real code path.
mkdir -p "$tmp/home"
HOME="$tmp/home" HANZO_LOG=warn HANZO_HTTP_THREADS=$threads "$build/hanzo" node --api-listen 127.0.0.1:0 >/dev/null 2>"$tmp/node.err" &
pids+=($!)
for i in $(seq 1 100); do
  [ -s "$tmp/home/.hanzo/storage/api_address" ] && grep -q ready "$tmp/ref.out" && break
  sleep 0.1
done
node_addr=$(cat "$tmp/home/.hanzo/storage/api_address")

rate() { # URL -> requests/s
  wrk -t1 -c"$conns" -d"${duration}s" "$1" | awk '/^Requests\/sec:/ {print $2}'
}
best_ref=0; best_node=0
for r in $(seq 1 "$rounds"); do
  a=$(rate "http://127.0.0.1:$ref_port/health")
  b=$(rate "http://$node_addr/health")
  echo "round $r: bare libmicrohttpd ${a} req/s, hanzo node ${b} req/s"
  best_ref=$(awk -v x="$a" -v y="$best_ref" 'BEGIN{print (x>y)?x:y}')
  best_node=$(awk -v x="$b" -v y="$best_node" 'BEGIN{print (x>y)?x:y}')
done
ratio=$(awk -v n="$best_node" -v r="$best_ref" 'BEGIN{printf "%.3f", n/r}')
echo "GET /health: hanzo ${best_node} req/s vs bare libmicrohttpd ${best_ref} req/s, ratio ${ratio} (floor ${floor})"
awk -v x="$ratio" -v f="$floor" 'BEGIN{exit !(x>=f)}'
