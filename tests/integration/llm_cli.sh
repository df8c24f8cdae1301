# hanzo models and hanzo run on generated tiny models: discovery from headers (folders, env,
# Ollama store), show, JSON output, deterministic one-shot answers on stdout with diagnostics
# on stderr, prompts from stdin, interactive turns, and one-line errors for bad models.
source "$HZ_TEST_HELPERS/common.sh"
export HOME="$TMP/home"
models="$HOME/.hanzo/models"
mkdir -p "$models/sub" "$TMP/other"
"$HZ_TOOLS_DIR/gguf_gen" chat "$models/tiny-chat.gguf" --seed 1
"$HZ_TOOLS_DIR/gguf_gen" embed "$models/sub/tiny-embed.gguf" --seed 1
"$HZ_TOOLS_DIR/gguf_gen" lora "$models/tiny-lora.gguf" --seed 1
printf 'GGUF\x03\x00\x00\x00garbage' > "$TMP/other/broken.gguf"

# Ollama store: a manifest naming a blob
digest=$(sha256sum "$models/tiny-chat.gguf" | cut -d' ' -f1)
mkdir -p "$TMP/ollama/blobs" "$TMP/ollama/manifests/registry.ollama.ai/library/tinyllm"
cp "$models/tiny-chat.gguf" "$TMP/ollama/blobs/sha256-$digest"
printf '{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s"}]}' "$digest" \
  > "$TMP/ollama/manifests/registry.ollama.ai/library/tinyllm/1b"

list=$("$HANZO_BIN" models --no-ollama)
check "models lists the default folder" bash -c "grep -q '^tiny-chat .*chat .*llama' <<<'$list'"
check "models finds sub-folders and embedding models" bash -c "grep -q '^tiny-embed .*embedding .*bert' <<<'$list'"
check "models marks adapters" bash -c "grep -q '^tiny-lora .*lora' <<<'$list'"
list=$(OLLAMA_MODELS="$TMP/ollama" "$HANZO_BIN" models)
check "models reads the Ollama store" bash -c "grep -q '^tinyllm:1b ' <<<'$list'"
json=$("$HANZO_BIN" models --no-ollama --json)
check "models --json is an array with metadata" test "$(json_get "$json" 'j.find(m => m.name === "tiny-chat").context_length')" = 4096
HANZO_MODELS_DIR="$TMP/other" "$HANZO_BIN" models --no-ollama >"$TMP/out" 2>"$TMP/err" || true
check "HANZO_MODELS_DIR replaces the default folder" bash -c "! grep -q tiny-chat '$TMP/out'"
check "an unreadable file is reported, not fatal" grep -q 'broken.gguf' "$TMP/err"
show=$("$HANZO_BIN" models show tiny-chat --no-ollama)
check "models show gives the architecture" bash -c "grep -q '^architecture *llama' <<<'$show'"
check "models show gives parameters and template" bash -c "grep -q '^parameters' <<<'$show' && grep -q '^chat template *yes' <<<'$show'"
check "models show accepts a path" bash -c "'$HANZO_BIN' models show '$models/sub/tiny-embed.gguf' --no-ollama | grep -q 'type *embedding'"
set +e
"$HANZO_BIN" models show nope --no-ollama >/dev/null 2>"$TMP/err"; st=$?
set -e
check "models show of an unknown name fails in one line" bash -c "[ $st -ne 0 ] && [ \$(wc -l < '$TMP/err') -eq 1 ]"

run() { "$HANZO_BIN" run tiny-chat --no-ollama --temperature 0 --max-tokens 12 "$@"; }
a=$(run "Hello there" 2>"$TMP/err1")
b=$(run "Hello there" 2>/dev/null)
check "run answers on stdout" test -n "$a"
check "greedy answers are reproducible" test "$a" = "$b"
check "progress goes to stderr" grep -q 'loading tiny-chat' "$TMP/err1"
c=$(echo "Hello there" | run 2>/dev/null)
check "a prompt on stdin is answered once, the same way" test "$c" = "$a"
j=$(run "Hello there" --json 2>/dev/null)
check "run --json reports usage" test "$(json_get "$j" 'j.usage.completion_tokens')" = 12
check "run --json reports the finish reason" test "$(json_get "$j" 'j.finish_reason')" = length
p=$(run "Hello there" --json --seed 5 --temperature 1 2>/dev/null)
q=$(run "Hello there" --json --seed 5 --temperature 1 2>/dev/null)
check "a seed makes sampling reproducible" test "$(json_get "$p" 'j.text')" = "$(json_get "$q" 'j.text')"
f=$(run "Give JSON" --format json --json --max-tokens 20 2>/dev/null)
check "--format json constrains the answer" test "$(json_get "$f" 'j.text.trim()[0]')" = "{"
check "run takes a GGUF path" bash -c "'$HANZO_BIN' run '$models/tiny-chat.gguf' hi --max-tokens 3 --no-ollama >/dev/null 2>&1"
check "run applies a LoRA adapter" bash -c "'$HANZO_BIN' run tiny-chat hi --max-tokens 3 --lora '$models/tiny-lora.gguf:0.5' --no-ollama >/dev/null 2>&1"
turns=$(printf 'first question\nsecond question\n\n' | script -qec "'$HANZO_BIN' run tiny-chat --no-ollama --temperature 0 --max-tokens 4 --verbose" /dev/null 2>&1 || true)
check "interactive mode answers turn after turn, reusing the cache" bash -c "grep -q '[1-9][0-9]* cached' <<<'$turns'"

# Ctrl-C during an answer stops the answer, not the program: it ends normally, status 0
"$HANZO_BIN" run tiny-chat "Tell me everything" --no-ollama --max-tokens 0 --ctx 4096 --verbose >"$TMP/long" 2>"$TMP/err" &
pid=$!
for i in $(seq 1 100); do [ -s "$TMP/long" ] && break; sleep 0.05; done
kill -INT $pid
set +e
wait $pid; st=$?
set -e
check "SIGINT stops the answer and the program exits 0" bash -c "[ $st -eq 0 ] && grep -q 'stopped' '$TMP/err' && grep -q '^\[cancelled' '$TMP/err'"

set +e
"$HANZO_BIN" run "$TMP/other/broken.gguf" hi --no-ollama >/dev/null 2>"$TMP/err"; st=$?
set -e
check "a corrupt model fails with one clear error line" bash -c "[ $st -ne 0 ] && [ \$(grep -c '^hanzo run:' '$TMP/err') -eq 1 ] && grep -q 'GGUF truncated' '$TMP/err'"
set +e
"$HANZO_BIN" run no-such-model hi --no-ollama >/dev/null 2>"$TMP/err"; st=$?
set -e
check "an unknown model fails with one line" bash -c "[ $st -ne 0 ] && grep -q 'no model named' '$TMP/err'"
check "run --help exits 0" bash -c "'$HANZO_BIN' run --help >/dev/null"
check "models --help exits 0" bash -c "'$HANZO_BIN' models --help >/dev/null"
finish
