# The local inference engine against llama-bench from the same llama.cpp build, on a generated
# model in the shape of a 0.5B-parameter model (Q8_0), with the same threads. Reports prompt
# processing and generation tokens/s through the engine (hz_llm_chat, the path API requests
# take) beside llama-bench's, time to first token, aggregate generation tokens/s with 1, 2, 4
# and 8 concurrent requests (continuous batching: it must rise with concurrency) and peak memory.
# Floors: engine >= 0.97 of llama-bench for pp and tg; aggregate at 8 > aggregate at 1.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
threads=${HZ_BENCH_THREADS:-2}
pp=${HZ_BENCH_PP:-512}
tg=${HZ_BENCH_TG:-128}
reps=${HZ_BENCH_REPS:-7}
floor=0.97
tools=${HZ_LLAMA_TOOLS:-$src/.deps/build/llama-tools/bin}
model_dir=$build/bench-models
model=$model_dir/hanzo-bench-0.5b-q8_0.gguf

if [ ! -x "$build/bench/llm_bench" ] || [ ! -x "$build/tests/gguf_gen" ]; then
  echo "llm_bench or gguf_gen is not built in $build (cmake --build $build --target llm_bench gguf_gen)"
  exit 1
fi
mkdir -p "$model_dir"
if [ ! -s "$model" ]; then
  echo "generating the benchmark model (0.5B shape, Q8_0)..."
  "$build/tests/gguf_gen" bench "$model" --seed 1
fi

field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# Rounds alternate engine / llama-bench, so drift in the machine's load hits both alike. Each
# round gives a paired ratio (engine / llama-bench measured back to back); the verdict is the
# median of those ratios over the rounds, which a single noisy round cannot swing either way.
status=0
pp_es=(); tg_es=(); pp_rs=(); tg_rs=(); pp_q=(); tg_q=()
have_ref=0; [ -x "$tools/llama-bench" ] && have_ref=1
for r in $(seq 1 "$reps"); do
  out=$("$build/bench/llm_bench" "$model" --threads "$threads" --pp "$pp" --tg "$tg" --reps 1 --conc 0)
  pe=$(field "$out" pp_tps); te=$(field "$out" tg_tps)
  pp_es+=("$pe"); tg_es+=("$te")
  line="round $r: engine pp${pp} $(printf %.1f "$pe") tg${tg} $(printf %.1f "$te")"
  if [ $have_ref = 1 ]; then
    ref=$("$tools/llama-bench" -m "$model" -t "$threads" -p "$pp" -n "$tg" -r 1 -o json 2>/dev/null)
    read -r a b < <(python3 -c 'import json,sys
rows=json.loads(sys.argv[1]); pp=tg=0
for r in rows:
    if r["n_prompt"]>0 and r["n_gen"]==0: pp=r["avg_ts"]
    if r["n_gen"]>0 and r["n_prompt"]==0: tg=r["avg_ts"]
print(pp, tg)' "$ref")
    pp_rs+=("$a"); tg_rs+=("$b")
    pp_q+=("$(python3 -c "print($pe/$a)")"); tg_q+=("$(python3 -c "print($te/$b)")")
    line="$line | llama-bench pp${pp} $(printf %.1f "$a") tg${tg} $(printf %.1f "$b") | ratio pp $(printf %.3f "${pp_q[-1]}") tg $(printf %.3f "${tg_q[-1]}")"
  fi
  echo "$line"
done
echo "engine (median):      pp${pp} $(printf %.1f "$(median "${pp_es[@]}")") t/s   tg${tg} $(printf %.1f "$(median "${tg_es[@]}")") t/s   (threads $threads, $reps rounds)"
if [ $have_ref = 1 ]; then
  echo "llama-bench (median): pp${pp} $(printf %.1f "$(median "${pp_rs[@]}")") t/s   tg${tg} $(printf %.1f "$(median "${tg_rs[@]}")") t/s"
  for what in pp tg; do
    q=${what}_q[@]
    ratio=$(median "${!q}")
    ok=$(python3 -c "print(int($ratio >= $floor))")
    echo "ratio $what (median of paired rounds): $(printf %.3f "$ratio") (floor $floor)$([ "$ok" = 1 ] || echo '  BELOW FLOOR')"
    [ "$ok" = 1 ] || status=1
  done
else
  echo "llama-bench not found in $tools: build the llama.cpp tools (see scripts/bootstrap) to compare"
  status=1
fi
engine=$("$build/bench/llm_bench" "$model" --threads "$threads" --pp 64 --tg "$tg" --reps 1 --conc 1,2,4,8)
echo "time to first token (16-token prompt): $(printf %.1f "$(field "$engine" ttft_ms)") ms"
a1=$(field "$engine" agg_tps.1); a8=$(field "$engine" agg_tps.8)
echo "aggregate generation: 1 request $(printf %.1f "$a1") t/s, 2: $(printf %.1f "$(field "$engine" agg_tps.2)"), 4: $(printf %.1f "$(field "$engine" agg_tps.4)"), 8: $(printf %.1f "$a8") t/s"
if python3 -c "import sys; sys.exit(0 if $a8 > $a1 else 1)"; then echo "continuous batching scales: 8 concurrent > 1"
else echo "aggregate throughput did not rise with concurrency  BELOW FLOOR"; status=1; fi
echo "peak memory: $(( $(field "$engine" peak_rss_bytes) / 1048576 )) MiB (model file $(( $(stat -c %s "$model") / 1048576 )) MiB)"
exit $status
