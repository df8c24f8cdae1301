# Post-quantum operations per call: ML-KEM-768 and ML-DSA-65 through the node's public API
# (bench/pq_bench.c), against the node's published targets (ML-KEM-768 keygen/encaps/decaps
# 50/60/70 us, ML-DSA-65 sign/verify 250/120 us; keygen has none), with PQClean's clean C timed
# in the same rounds as the reference the fast path replaced. X-Wing is shown for information.
# Each number is the median over HZ_BENCH_PQ_ROUNDS rounds (default 25) of a batch's mean per
# call, with the best round beside it. Fails when an operation's median exceeds its target.
set -euo pipefail
build=$1
rounds=${HZ_BENCH_PQ_ROUNDS:-25}
prog="$build/bench/pq_bench"
[ -x "$prog" ] || { echo "crypto_pq: $prog not built (cmake --build $build --target pq_bench)"; exit 1; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
out=$("$prog" "$rounds")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$(nproc) CPUs, load average $load_before before and $load_after after; median (best) of $rounds rounds"

echo "$out" | awk '
  BEGIN {
    target["ml-kem-768.keygen"] = 50; target["ml-kem-768.encaps"] = 60; target["ml-kem-768.decaps"] = 70
    target["ml-dsa-65.sign"] = 250; target["ml-dsa-65.verify"] = 120
    printf "%-19s %18s %8s %8s %18s %8s\n", "operation", "hanzo us", "target", "ratio", "PQClean us", "speedup"
    status = 0
  }
  $1 == "RESULT" {
    op = $2; impl = $3
    if (!(op in seen)) { seen[op] = 1; order[n++] = op }
    med[op, impl] = $4; best[op, impl] = $5
  }
  END {
    for (i = 0; i < n; i++) {
      op = order[i]
      h = sprintf("%.1f (%.1f)", med[op, "hanzo"], best[op, "hanzo"])
      t = "-"; r = "-"; p = "-"; s = "-"
      if (op in target) {
        t = target[op]; ratio = med[op, "hanzo"] / target[op]; r = sprintf("%.2f", ratio)
        if (ratio > 1) { r = r " FAIL"; status = 1 }
      }
      if ((op, "pqclean") in med) {
        p = sprintf("%.1f (%.1f)", med[op, "pqclean"], best[op, "pqclean"])
        s = sprintf("%.1fx", med[op, "pqclean"] / med[op, "hanzo"])
      }
      printf "%-19s %18s %8s %8s %18s %8s\n", op, h, t, r, p, s
    }
    exit status
  }'
