# Shared helpers for the shell integration tests. Source it; it sets `set -euo pipefail`,
# makes a private temp dir removed on exit, and gives small assertion and node helpers.
# Every test runs its node on port 0 with its own HOME, so tests can run in parallel.
set -euo pipefail

: "${HANZO_BIN:?HANZO_BIN must point at the hanzo program (ctest sets it)}"
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/hz-$TEST_NAME.XXXXXX")
NODE_PIDS=()
PASSED=0
FAILED=0

cleanup() {
  local pid
  for pid in "${NODE_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
# check DESCRIPTION COMMAND...: run the command, count a pass or a failure.
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# finish: print the closing line and exit non-zero if anything failed.
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# start_node NAME [hanzo node flags...]: run a node with HOME=$TMP/NAME on a free port.
# Sets NODE_PID, NODE_URL, NODE_HOME, NODE_STORAGE, NODE_OUT (stdout), NODE_ERR (log).
start_node() {
  local name=$1; shift
  NODE_HOME="$TMP/$name"
  NODE_STORAGE="$NODE_HOME/.hanzo/storage"
  mkdir -p "$NODE_HOME"
  rm -f "$NODE_STORAGE/api_address"
  NODE_OUT="$NODE_HOME/stdout"
  NODE_ERR="$NODE_HOME/stderr"
  HOME="$NODE_HOME" "$HANZO_BIN" node --api-listen 127.0.0.1:0 "$@" >"$NODE_OUT" 2>"$NODE_ERR" &
  NODE_PID=$!
  NODE_PIDS+=("$NODE_PID")
  local i
  for i in $(seq 1 100); do
    if [ -s "$NODE_STORAGE/api_address" ]; then
      NODE_URL="http://$(cat "$NODE_STORAGE/api_address")"
      return 0
    fi
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
      echo "node exited during start:" >&2; cat "$NODE_ERR" >&2; return 1
    fi
    sleep 0.1
  done
  echo "node did not start within 10 s" >&2; cat "$NODE_ERR" >&2
  return 1
}

# stop_node [SIGNAL]: signal the node and wait; sets STOP_MS (time to exit) and STOP_STATUS.
stop_node() {
  local sig=${1:-TERM} t0 t1
  t0=$(date +%s%N)
  kill -s "$sig" "$NODE_PID"
  STOP_STATUS=0
  wait "$NODE_PID" || STOP_STATUS=$?
  t1=$(date +%s%N)
  STOP_MS=$(( (t1 - t0) / 1000000 ))
}

# http METHOD PATH [curl args...]: request against the node; sets STATUS, BODY, HEADERS.
http() {
  local method=$1 path=$2; shift 2
  local out="$TMP/body.$$" hdr="$TMP/headers.$$"
  STATUS=$(curl -s -o "$out" -D "$hdr" -w '%{http_code}' -X "$method" "$@" "$NODE_URL$path" || true)
  BODY=$(cat "$out")
  HEADERS=$(tr -d '\r' < "$hdr")
}

# json_get JSON EXPR: evaluate a JavaScript expression over the parsed JSON as `j`.
json_get() { node -e 'const j = JSON.parse(process.argv[1]); const v = eval(process.argv[2]); console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"; }
