# BLAKE3 throughput of the node's hashing path against Debian's b3sum on the same file in the
# page cache: single-threaded (--num-threads 1 on both) and on every CPU (no thread option). The
# node's side is `hanzo pqc hash` (b3sum-compatible; hz_blake3_file maps the file and hashes it
# with hz_blake3_parallel), or tests/tools/b3hash, the same library path, when the CLI lacks the
# command. Rounds alternate node/b3sum so load changes hit both; the best round of each is
# compared, and both must print the same hash. Floor: 0.95 of b3sum in both modes.
# HZ_BENCH_B3_MIB (default 1024) sets the file size, HZ_BENCH_ROUNDS (default 5) the rounds.
set -euo pipefail
build=$1
mib=${HZ_BENCH_B3_MIB:-1024}
rounds=${HZ_BENCH_ROUNDS:-5}
floor=0.95
if "$build/hanzo" pqc hash --help >/dev/null 2>&1; then
  ours=("$build/hanzo" pqc hash); ours_name="hanzo pqc hash"; one=(--num-threads 1); all=()
elif [ -x "$build/tests/b3hash" ]; then
  ours=("$build/tests/b3hash"); ours_name="b3hash (hz_blake3_file)"; one=(--threads 1); all=(--threads 0)
else
  echo "crypto_blake3: neither $build/hanzo (pqc hash) nor $build/tests/b3hash is built"; exit 1
fi
command -v b3sum >/dev/null || { echo "crypto_blake3: b3sum not installed (Debian package b3sum)"; exit 1; }

# The file lives in /tmp and must fit in free space and, to be hashed from the page cache, in
# available memory, each with a margin.
need_kib=$(( (mib + 256) * 1024 ))
free_kib=$(df -Pk /tmp | awk 'NR==2 {print $4}')
avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if [ "$free_kib" -lt "$need_kib" ] || [ "$avail_kib" -lt "$need_kib" ]; then
  echo "crypto_blake3: need $((need_kib / 1024)) MiB free in /tmp and in memory (have $((free_kib / 1024)) and $((avail_kib / 1024)))"
  exit 1
fi
tmp=$(mktemp -d /tmp/hz-b3bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
file="$tmp/data"
head -c "$((mib * 1024 * 1024))" /dev/urandom > "$file"
cat "$file" > /dev/null # into the page cache

# run NAME CMD... : time one hash of $file, keep the fastest time per NAME, check the digest.
declare -A best digest
run() {
  local name=$1; shift
  local t0 t1 out
  t0=$(date +%s%N)
  out=$("$@" "$file" | awk '{print $1}')
  t1=$(date +%s%N)
  local ns=$((t1 - t0))
  if [ -z "${digest[ref]:-}" ]; then digest[ref]=$out; fi
  if [ "$out" != "${digest[ref]}" ]; then
    echo "crypto_blake3: $name printed $out, expected ${digest[ref]}"
    exit 1
  fi
  if [ -z "${best[$name]:-}" ] || [ "$ns" -lt "${best[$name]}" ]; then best[$name]=$ns; fi
}
for r in $(seq 1 "$rounds"); do
  run b3sum_1 b3sum --num-threads 1
  run ours_1 "${ours[@]}" "${one[@]}"
  run b3sum_n b3sum
  run ours_n "${ours[@]}" ${all[@]+"${all[@]}"}
done

gibs() { awk -v ns="$1" -v mib="$mib" 'BEGIN {printf "%.2f", mib / 1024 / (ns / 1e9)}'; }
status=0
echo "$ours_name vs b3sum $(b3sum --version | cut -d' ' -f2): $mib MiB file in the page cache, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), best of $rounds rounds"
for mode in 1 n; do
  label=$([ $mode = 1 ] && echo "1 thread " || echo "all CPUs ")
  o=${best[ours_$mode]}; b=${best[b3sum_$mode]}
  ratio=$(awk -v o="$o" -v b="$b" 'BEGIN {printf "%.3f", b / o}')
  echo "BLAKE3 $label: hanzo $(gibs "$o") GiB/s vs b3sum $(gibs "$b") GiB/s, ratio $ratio (floor $floor)"
  awk -v x="$ratio" -v f="$floor" 'BEGIN {exit !(x >= f)}' || status=1
done
exit $status
