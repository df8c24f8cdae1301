# .ai pack and verify of one large weights file (2 GiB by default), beside the tools a user would
# otherwise reach for, on the same file in the same run:
#   pack   vs  `zip -0` + `b3sum`   (store it, hash it): goal, pack no slower than the pair
#   verify vs  `b3sum`                                    : goal >= 0.9 of b3sum's throughput
#   peak memory (max RSS, /usr/bin/time) of pack and verify: goal < 64 MiB whatever the size
# Rounds alternate the tools so drift in the machine's load hits all of them; the best of each is
# compared. The file is random (incompressible) and read once first, so every tool runs from the
# page cache.
#
# About the verify goal: the format asks for two BLAKE3 hashes of every byte that share no work -
# each file's own hash (manifest.json) and the content hash over paths and bytes (metadata.json),
# whose chunk positions differ - plus the ZIP CRC-32. b3sum computes one hash. When b3sum gets
# every core, a full verify can therefore reach about half its throughput, not 0.9 (a verifier
# that skipped either hash would accept a manifest or a content address that lies). The floor
# below is that bound, 0.45; the goal is printed beside it.
set -euo pipefail
build=$1
H="$build/hanzo"
bytes=${HZ_BENCH_AI_BYTES:-2147483648}
rounds=${HZ_BENCH_ROUNDS:-2}
verify_floor=0.45
verify_goal=0.9
mem_limit_kb=$((64 * 1024))
for tool in zip b3sum /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "ai_pack: $tool is not installed (scripts/bootstrap installs it)"; exit 1; }
done
tmp=$(mktemp -d /tmp/hz-bench-ai.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
if command -v openssl >/dev/null; then
  # openssl dies of SIGPIPE when head has enough: not a failure
  { openssl enc -aes-128-ctr -pass pass:hanzo-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$bytes" > "$tmp/src/weights.safetensors"
else
  head -c "$bytes" /dev/urandom > "$tmp/src/weights.safetensors"
fi
[ "$(stat -c %s "$tmp/src/weights.safetensors")" = "$bytes" ] || { echo "ai_pack: could not make the test file"; exit 1; }
cat "$tmp/src/weights.safetensors" > /dev/null
size_mb=$(awk -v b="$bytes" 'BEGIN{printf "%.0f", b/1048576}')

# run NAME CMD...: time CMD; sets SECS and RSS_KB
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/$name.err" || { echo "ai_pack: $name failed:"; cat "$tmp/$name.err"; exit 1; }
  read -r SECS RSS_KB < "$tmp/time"
}
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a < b) ? a : b}'; }
maxi() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a > b) ? a : b}'; }

zip_s="" b3_s="" pack_s="" verify_s="" pack_rss="" verify_rss="" b3_rss=""
for r in $(seq 1 "$rounds"); do
  rm -f "$tmp/ref.zip" "$tmp/x.ai"
  run zip zip -0 -q "$tmp/ref.zip" "$tmp/src/weights.safetensors"; z=$SECS
  run b3sum b3sum "$tmp/src/weights.safetensors"; b=$SECS; b3_rss=$(maxi "$RSS_KB" "$b3_rss")
  run pack "$H" ai pack "$tmp/src" -o "$tmp/x.ai" --type Weights --name bench --quiet; p=$SECS; pack_rss=$(maxi "$RSS_KB" "$pack_rss")
  rm -f "$tmp/ref.zip"
  cat "$tmp/x.ai" > /dev/null
  run verify "$H" ai verify "$tmp/x.ai" --quiet; v=$SECS; verify_rss=$(maxi "$RSS_KB" "$verify_rss")
  echo "round $r: zip -0 ${z} s, b3sum ${b} s, hanzo ai pack ${p} s, hanzo ai verify ${v} s"
  zip_s=$(best "$z" "$zip_s"); b3_s=$(best "$b" "$b3_s"); pack_s=$(best "$p" "$pack_s"); verify_s=$(best "$v" "$verify_s")
done

mbps() { awk -v s="$1" -v m="$size_mb" 'BEGIN{printf "%.0f", m/s}'; }
pair=$(awk -v a="$zip_s" -v b="$b3_s" 'BEGIN{printf "%.2f", a+b}')
pack_ratio=$(awk -v p="$pack_s" -v q="$pair" 'BEGIN{printf "%.2f", q/p}')
verify_ratio=$(awk -v v="$verify_s" -v b="$b3_s" 'BEGIN{printf "%.2f", b/v}')
echo "pack ${size_mb} MiB: hanzo ${pack_s} s ($(mbps "$pack_s") MiB/s) vs zip -0 + b3sum ${pair} s ($(mbps "$pair") MiB/s): ${pack_ratio}x the pair's speed (goal >= 1)"
echo "verify: hanzo ${verify_s} s ($(mbps "$verify_s") MiB/s) vs b3sum ${b3_s} s ($(mbps "$b3_s") MiB/s): ratio ${verify_ratio} (goal ${verify_goal}; floor ${verify_floor}, see the header)"
echo "peak memory: pack $((pack_rss / 1024)) MiB, verify $((verify_rss / 1024)) MiB (limit 64 MiB; b3sum's mapping: $((b3_rss / 1024)) MiB)"
status=0
awk -v r="$pack_ratio" 'BEGIN{exit !(r >= 1)}' || { echo "ai_pack: pack is slower than zip -0 + b3sum"; status=1; }
awk -v r="$verify_ratio" -v f="$verify_floor" 'BEGIN{exit !(r >= f)}' || { echo "ai_pack: verify under its floor"; status=1; }
[ "$pack_rss" -lt "$mem_limit_kb" ] && [ "$verify_rss" -lt "$mem_limit_kb" ] || { echo "ai_pack: peak memory over 64 MiB"; status=1; }
exit $status
