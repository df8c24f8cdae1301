# hanzo ai pull / push against a real local HTTP server (ai_http_server.py) playing every remote
# backend: a plain URL, a mirror in Hugging Face's layout, an IPFS gateway (the CID is computed
# here from b3sum's hash of the archive, independently of our encoder), and a writable mirror;
# plus the local store folder. The server cuts the first transfer of every file short, so each
# download must resume with a Range request; it also serves tampered and wrong files, which must
# be refused and replaced by the next location.
source "$HZ_TEST_HELPERS/common.sh"
H=$HANZO_BIN
SERVER="$HZ_SOURCE_DIR/tests/integration/ai_http_server.py"

www=$TMP/www
mkdir -p "$www"
# started from a subshell so the shell does not report the kill at cleanup as a crashed job
(python3 "$SERVER" --root "$www" --port-file "$TMP/port" --log "$TMP/server.log" --cut-after 1000000 &
 echo $! > "$TMP/server.pid")
NODE_PIDS+=("$(cat "$TMP/server.pid")")
for i in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
P=$(cat "$TMP/port")
BASE=http://127.0.0.1:$P

mkdir -p "$TMP/src" "$TMP/src2"
head -c 5000000 /dev/urandom > "$TMP/src/model.gguf"
printf '{"a": 1}\n' > "$TMP/src/config.json"
head -c 100000 /dev/urandom > "$TMP/src2/other.bin"
"$H" ai pack "$TMP/src" -o "$TMP/a.ai" --type Model --name remote --quiet >/dev/null
"$H" ai pack "$TMP/src2" -o "$TMP/b.ai" --type Weights --name other --quiet >/dev/null
HASH=$(json_get "$("$H" ai info "$TMP/a.ai" --json)" j.content_hash)
cid_of() { # CIDv1, raw codec, BLAKE3 multihash, base32: written out here from the multiformats specs
  python3 -c 'import base64,sys; d=bytes.fromhex(sys.argv[1]); print("b"+base64.b32encode(bytes([1,0x55,0x1e,0x20])+d).decode().lower().rstrip("="))' \
    "$(b3sum --no-names "$1")"
}
CID=$(cid_of "$TMP/a.ai")
CID_B=$(cid_of "$TMP/b.ai")

mkdir -p "$www/direct" "$www/org/model/resolve/v1" "$www/org/model/resolve/main" "$www/ipfs" "$www/norange" "$www/bad"
cp "$TMP/a.ai" "$www/direct/a.ai"
cp "$TMP/a.ai" "$www/org/model/resolve/v1/$HASH.ai"
cp "$TMP/a.ai" "$www/org/model/resolve/main/custom.ai"
cp "$TMP/a.ai" "$www/ipfs/$CID"
cp "$TMP/a.ai" "$www/ipfs/$CID_B"              # served under the wrong CID
cp "$TMP/a.ai" "$www/norange/a.ai"
cp "$TMP/b.ai" "$www/direct/b.ai"
cp "$TMP/a.ai" "$www/bad/a.ai"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(3000000); b=f.read(1); f.seek(3000000); f.write(bytes([b[0]^1]))' "$www/bad/a.ai"

pull() { "$H" ai pull "$@" --quiet; }

check "plain URL, cut off and resumed" pull "$HASH" --from "$BASE/direct/a.ai" -o "$TMP/o1.ai"
check "  the bytes are the archive's" cmp -s "$TMP/o1.ai" "$TMP/a.ai"
check "  the first GET was cut, the second asked for the rest" grep -q "^GET /direct/a.ai bytes=1000000- 206" "$TMP/server.log"
check "  no partial file is left" test ! -e "$TMP/o1.ai.part"

check "Hugging Face layout, default file name" pull "$HASH" --from "hf:org/model@v1" --hf-base "$BASE" -o "$TMP/o2.ai"
check "  fetched /org/model/resolve/v1/<hash>.ai" grep -q "^GET /org/model/resolve/v1/$HASH.ai bytes=1000000- 206" "$TMP/server.log"
check "Hugging Face layout, named file, default revision" pull "$HASH" --from "hf:org/model/custom.ai" --hf-base "$BASE" -o "$TMP/o3.ai"
check "IPFS gateway by CID" pull "$HASH" --from "ipfs:$CID" --ipfs-gateway "$BASE" -o "$TMP/o4.ai"
check "  fetched /ipfs/<cid>" grep -q "^GET /ipfs/$CID " "$TMP/server.log"

if pull "$HASH" --from "ipfs:$CID_B" --ipfs-gateway "$BASE" -o "$TMP/o5.ai" 2>"$TMP/e5"; then fail "an archive not matching its CID was accepted"
else ok "an archive not matching its CID is refused"; fi
check "  saying so" grep -q "does not hash to its CID" "$TMP/e5"
check "  and leaves nothing" test ! -e "$TMP/o5.ai" -a ! -e "$TMP/o5.ai.part"

if pull "$HASH" --from "$BASE/direct/b.ai" -o "$TMP/o6.ai" 2>"$TMP/e6"; then fail "another artifact accepted for the hash"
else ok "another artifact is refused for the hash"; fi
check "  as a content hash mismatch" grep -q "content_hash_mismatch" "$TMP/e6"

"$H" ai pull "$HASH" --from "$BASE/missing.ai" --from "$BASE/bad/a.ai" --from "hf:org/model@v1" --hf-base "$BASE" -o "$TMP/o7.ai" >"$TMP/out7" 2>"$TMP/e7"
check "fallback past a 404 and a tampered mirror" cmp -s "$TMP/o7.ai" "$TMP/a.ai"
check "  served by the third location" grep -q "resolve/v1" "$TMP/out7"
if pull "$HASH" --from "$BASE/missing.ai" --from "$BASE/bad/a.ai" -o "$TMP/o8.ai" 2>"$TMP/e8"; then fail "all-bad locations accepted"
else ok "when every location fails, pull fails"; fi
check "  naming each failure" bash -c "grep -q 'HTTP 404' '$TMP/e8' && grep -q 'hash_mismatch' '$TMP/e8'"

check "a server that ignores Range: start over" pull "$HASH" --from "$BASE/norange/a.ai" -o "$TMP/o9.ai"
check "  (the retry got a 200)" grep -q "^GET /norange/a.ai bytes=1000000- 200" "$TMP/server.log"
check "  and the result is right" cmp -s "$TMP/o9.ai" "$TMP/a.ai"

# resume across runs: a partial download from an earlier run
head -c 2500000 "$TMP/a.ai" > "$TMP/o10.ai.part"
printf '%s' "$BASE/direct/a.ai" > "$TMP/o10.ai.part.src"
check "an earlier run's partial download is resumed" pull "$HASH" --from "$BASE/direct/a.ai" -o "$TMP/o10.ai"
check "  from byte 2500000" grep -q "^GET /direct/a.ai bytes=2500000- 206" "$TMP/server.log"
check "  correctly" cmp -s "$TMP/o10.ai" "$TMP/a.ai"
# a partial from another URL is not spliced onto this one
head -c 2500000 "$TMP/b.ai" > "$TMP/o11.ai.part"
printf '%s' "$BASE/direct/b.ai" > "$TMP/o11.ai.part.src"
check "a partial download from another URL is discarded" pull "$HASH" --from "$BASE/org/model/resolve/main/custom.ai" -o "$TMP/o11.ai"
check "  correctly" cmp -s "$TMP/o11.ai" "$TMP/a.ai"

# locations listed in metadata, tried in order
cat > "$TMP/meta.json" <<EOF
{"locations": [{"Http": "$BASE/missing.ai"}, {"HuggingFace": {"repo_id": "org/model", "revision": "v1"}}]}
EOF
check "locations from metadata.json" pull "$HASH" --locations "$TMP/meta.json" --hf-base "$BASE" -o "$TMP/o12.ai"

# uploads: a writable mirror (PUT) and the local store
check "push to a URL (PUT)" "$H" ai push "$TMP/a.ai" --to "$BASE/uploads/a.ai" --quiet
check "  arrived intact" cmp -s "$www/uploads/a.ai" "$TMP/a.ai"
check "push to a mirror in HF layout" "$H" ai push "$TMP/a.ai" --to "hf:org/up" --hf-base "$BASE" --quiet
check "  at /org/up/resolve/main/<hash>.ai" cmp -s "$www/org/up/resolve/main/$HASH.ai" "$TMP/a.ai"
check "push to a local store folder" "$H" ai push "$TMP/a.ai" --to "$TMP/store" --quiet
check "  content-addressed" cmp -s "$TMP/store/${HASH:0:2}/$HASH.ai" "$TMP/a.ai"
check "  with its summary" test -s "$TMP/store/${HASH:0:2}/$HASH.json"
check "pull from the store folder" pull "$HASH" --from "$TMP/store" -o "$TMP/o13.ai"
check "pull into a store" pull "$HASH" --from "$BASE/direct/a.ai" --store "$TMP/store2"
check "  content-addressed" cmp -s "$TMP/store2/${HASH:0:2}/$HASH.ai" "$TMP/a.ai"
if "$H" ai push "$TMP/a.ai" --to "ipfs:$CID" --quiet 2>"$TMP/e14"; then fail "push to IPFS claimed success"; else ok "push to an IPFS gateway is refused (read-only)"; fi
cp "$www/bad/a.ai" "$TMP/bad.ai"
if "$H" ai push "$TMP/bad.ai" --to "$BASE/uploads/bad.ai" --quiet 2>/dev/null; then fail "pushed a corrupt archive"; else ok "a corrupt archive is not pushed"; fi
check "  and nothing was uploaded" test ! -e "$www/uploads/bad.ai"

"$H" ai pull "$HASH" --from "$BASE/org/model/resolve/main/custom.ai" -o "$TMP/o15.ai" --progress >/dev/null 2>"$TMP/p15"
check "pull --progress reports the download" grep -q "download" "$TMP/p15"

finish
