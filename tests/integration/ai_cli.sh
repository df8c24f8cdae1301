# hanzo ai as a user meets it, checked with tools that know nothing about our code: every
# artifact type packs and unpacks to the same bytes; the archive passes Info-ZIP's `unzip -t`
# and Python's zipfile (which also sees _format, the stored weights and the deflated text);
# standard unzip extracts the same files; the content hash is recomputed here with b3sum from
# its definition; signatures work with keys made by `hanzo pqc keygen`; a hostile archive built
# with Python is refused with its reason and leaves nothing behind.
source "$HZ_TEST_HELPERS/common.sh"
H=$HANZO_BIN
for tool in unzip b3sum python3; do
  command -v $tool >/dev/null || { echo "FAIL: $tool is not installed (scripts/bootstrap installs it)"; exit 1; }
done

src=$TMP/src
mkdir -p "$src/sub"
head -c 5000000 /dev/urandom > "$src/model.gguf"
printf '{"hidden_size": 64, "num_layers": 2}\n' > "$src/config.json"
python3 -c 'import json; print(json.dumps({"model": {"vocab": {"w%d" % i: i for i in range(3000)}}}))' > "$src/tokenizer.json"
printf 'notes in a subfolder\n' > "$src/sub/notes.txt"
: > "$src/empty.txt"

# content hash from the definition: BLAKE3 over each data file's path bytes then its bytes, in
# bytewise-sorted path order. Data files are everything but manifest.json, metadata.json and
# signatures/ in an unpacked folder.
content_hash_b3sum() {
  local dir=$1
  (cd "$dir" && find . -type f ! -path ./manifest.json ! -path ./metadata.json ! -path './signatures/*' \
     | sed 's|^\./||' | LC_ALL=C sort | while IFS= read -r p; do printf '%s' "$p"; cat "$p"; done) | b3sum --no-names
}
# b3sum of every data file, sorted: the same multiset must come out as went in
file_hashes() { (cd "$1" && find . -type f ! -name manifest.json ! -name metadata.json ! -path './signatures/*' -exec b3sum --no-names {} + | LC_ALL=C sort); }
src_hashes=$(file_hashes "$src")

types=("Model" "Weights" "QuantizedModel:format=GGUF,bits=4" "Delta:base_model=llama-3-8b,method=LoRA,rank=16,alpha=32"
       "Dataset:task=Conversation,split=train" "Embeddings:model=bge-small,dimensions=384" "VectorStore:index_type=hnsw,dimensions=384"
       "AgentState:agent_type=assistant" "Tokenizer" "Config" "Checkpoint:epoch=3,step=1200" "Custom:my-thing")
for t in "${types[@]}"; do
  name=${t%%:*}
  ai=$TMP/$name.ai
  out=$TMP/$name.out
  if ! "$H" ai pack "$src" -o "$ai" --type "$t" --name "rt-$name" --license MIT >"$TMP/pack.log" 2>&1; then
    fail "$name: pack: $(cat "$TMP/pack.log")"; continue
  fi
  check "$name: unzip -t" bash -c "unzip -t '$ai' | grep -q 'No errors detected'"
  check "$name: verify" "$H" ai verify "$ai" --quiet
  "$H" ai info "$ai" --json > "$TMP/info.json"
  check "$name: info names the type" test "$(json_get "$(cat "$TMP/info.json")" 'typeof j.metadata.artifact_type === "string" ? j.metadata.artifact_type : Object.keys(j.metadata.artifact_type)[0]')" = "$name"
  if ! "$H" ai unpack "$ai" -o "$out" --quiet >"$TMP/unpack.log" 2>&1; then fail "$name: unpack: $(cat "$TMP/unpack.log")"; continue; fi
  check "$name: unpacked files are the source files" test "$(file_hashes "$out")" = "$src_hashes"
  want=$(json_get "$(cat "$TMP/info.json")" j.content_hash)
  check "$name: content hash recomputed with b3sum" test "$(content_hash_b3sum "$out")" = "$want"
done

# Python's zipfile, and the format's own bytes, on the Model artifact
check "python zipfile reads it" python3 - "$TMP/Model.ai" <<'EOF'
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "CRC error"
names = z.namelist()
assert names[:3] == ["_format", "manifest.json", "metadata.json"], names
assert z.read("_format") == b"HAIF\x01\x00\x00\x00"
m = json.loads(z.read("manifest.json"))
assert m["version"] == 1 and m["file_count"] == len(m["files"]) == 5
assert m["total_size"] == sum(f["size"] for f in m["files"].values())
for path, f in m["files"].items():
    info = z.getinfo(path)
    assert info.file_size == f["size"] and info.compress_size == f["compressed_size"], path
w = z.getinfo("data/weights/model.gguf")
assert w.compress_type == zipfile.ZIP_STORED, "weights must be stored"
assert z.getinfo("data/tokenizer/tokenizer.json").compress_type == zipfile.ZIP_DEFLATED, "text must be deflated"
md = json.loads(z.read("metadata.json"))
for k in ["id", "name", "version", "description", "artifact_type", "author", "license", "tags", "created_at", "updated_at",
          "size_bytes", "content_hash", "requirements", "networks", "locations", "dependencies", "custom"]:
    assert k in md, k
assert md["artifact_type"] == "Model" and md["license"] == "MIT" and md["size_bytes"] == m["total_size"]
EOF
mkdir -p "$TMP/infozip"
check "Info-ZIP unzip extracts the same files" bash -c "cd '$TMP/infozip' && unzip -q '$TMP/Model.ai' && test \"\$(cd '$TMP/infozip' && find . -type f ! -name manifest.json ! -name metadata.json ! -name _format -exec b3sum --no-names {} + | LC_ALL=C sort)\" = \"$src_hashes\""
check "manifest hashes are b3sum's" python3 - "$TMP/Model.ai" "$TMP/Model.out" <<'EOF'
import json, subprocess, sys, zipfile
m = json.loads(zipfile.ZipFile(sys.argv[1]).read("manifest.json"))
for path, f in m["files"].items():
    got = subprocess.run(["b3sum", "--no-names", sys.argv[2] + "/" + path], capture_output=True, text=True).stdout.strip()
    assert got == f["hash"], path
EOF

# repack the unpacked folder: same content hash, metadata carried over
check "repack of an unpacked folder keeps the content hash" bash -c "
  '$H' ai pack '$TMP/Model.out' -o '$TMP/again.ai' --quiet >/dev/null &&
  test \"\$('$H' ai info '$TMP/again.ai' --json | node -e 'let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).content_hash))')\" = \"\$('$H' ai info '$TMP/Model.ai' --json | node -e 'let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).content_hash))')\""

# progress on long work: lines on stderr with --progress
"$H" ai verify "$TMP/Model.ai" --progress >/dev/null 2>"$TMP/progress.err"
check "verify --progress reports progress" grep -q "verify .* / " "$TMP/progress.err"

# signatures with keys from `hanzo pqc keygen`
"$H" pqc keygen --alg ml-dsa-65 -o "$TMP/alice" >/dev/null
"$H" pqc keygen --alg ml-dsa-87 -o "$TMP/bob" >/dev/null
check "pack --sign" "$H" ai pack "$src" -o "$TMP/signed.ai" --type Model --name signed --sign "$TMP/alice.key" --quiet
check "verify --trust the signer" "$H" ai verify "$TMP/signed.ai" --trust "$TMP/alice.pub" --quiet
if "$H" ai verify "$TMP/signed.ai" --trust "$TMP/bob.pub" --quiet 2>"$TMP/untrusted.err"; then fail "untrusted signer accepted"; else ok "another key's trust list refuses it"; fi
check "the refusal says untrusted" grep -q "untrusted" "$TMP/untrusted.err"
check "sign adds a second signer" "$H" ai sign "$TMP/signed.ai" --key "$TMP/bob.key" --quiet
check "then bob is trusted too" "$H" ai verify "$TMP/signed.ai" --trust "$TMP/bob.pub" --quiet
check "info lists both signers" test "$("$H" ai info "$TMP/signed.ai" --json | grep -c '"key_id"')" = 2
check "signed archive still passes unzip -t" bash -c "unzip -t '$TMP/signed.ai' | grep -q 'No errors detected'"
mkdir -p "$TMP/trust"
cp "$TMP/bob.pub" "$TMP/trust/"
check "--trust-dir" "$H" ai verify "$TMP/signed.ai" --trust-dir "$TMP/trust" --quiet

# a hostile archive made by another tool
python3 - "$TMP/evil.ai" "$TMP/Model.ai" <<'EOF'
import sys, zipfile
src = zipfile.ZipFile(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n in src.namelist():
        z.writestr(n, src.read(n))
    z.writestr("../../evil-from-zip.txt", b"owned")
EOF
mkdir -p "$TMP/land"
if "$H" ai unpack "$TMP/evil.ai" -o "$TMP/land/out" 2>"$TMP/evil.err"; then fail "traversal archive unpacked"; else ok "traversal archive refused"; fi
check "the error names the rule" grep -q "path_traversal" "$TMP/evil.err"
check "nothing was written" test -z "$(ls -A "$TMP/land")"
check "nothing escaped" test ! -e "$TMP/evil-from-zip.txt"
# a flipped byte in the weights
cp "$TMP/Model.ai" "$TMP/flip.ai"
python3 - "$TMP/flip.ai" <<'EOF'
import sys, zipfile
p = sys.argv[1]
z = zipfile.ZipFile(p)
info = z.getinfo("data/weights/model.gguf")
off = info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 1]))
EOF
if "$H" ai verify "$TMP/flip.ai" --quiet 2>"$TMP/flip.err"; then fail "flipped byte accepted"; else ok "flipped byte refused"; fi
check "named as a hash mismatch of the weights" grep -q "hash_mismatch: \"data/weights/model.gguf\"" "$TMP/flip.err"

# the CLI's own errors
if "$H" ai pack "$src" --type Model --name x 2>"$TMP/e1"; then fail "pack without -o"; else ok "pack without -o fails"; fi
check "and says why" grep -q "missing -o" "$TMP/e1"
if "$H" ai pack "$src" -o "$TMP/x.ai" --type Nope --name x 2>"$TMP/e2"; then fail "unknown type accepted"; else ok "unknown type refused"; fi
check "listing the types" grep -q "expected one of Model, Weights, QuantizedModel" "$TMP/e2"
check "ai --help" "$H" ai --help
check "ai types lists every licence" bash -c "'$H' ai types | grep -q CcByNc4"

finish
