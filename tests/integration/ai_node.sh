# The node's /v2/artifacts API: upload (verified before it is stored; a hostile archive is a 400
# naming the rule), list, download with Range, the manifest, delete, persistence across a
# restart, and `hanzo ai push` / `pull` with the node as a backend.
source "$HZ_TEST_HELPERS/common.sh"
H=$HANZO_BIN

start_node n
KEY=$(cat "$NODE_STORAGE/api_key")
AUTH=(-H "Authorization: Bearer $KEY")

mkdir -p "$TMP/src"
head -c 3000000 /dev/urandom > "$TMP/src/tiny.gguf"
printf '{"n_ctx": 128}\n' > "$TMP/src/config.json"
"$H" ai pack "$TMP/src" -o "$TMP/a.ai" --type QuantizedModel:format=GGUF,bits=4 --name node-test --quiet >/dev/null
HASH=$(json_get "$("$H" ai info "$TMP/a.ai" --json)" j.content_hash)
SIZE=$(stat -c %s "$TMP/a.ai")

http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/a.ai"
check "upload is 201 (got $STATUS)" test "$STATUS" = 201
check "  and answers the content hash" test "$(json_get "$BODY" j.content_hash)" = "$HASH"
check "  verified" test "$(json_get "$BODY" j.data_verified)" = true
check "  with the archive's CID" test "$(json_get "$BODY" 'j.cid.slice(0,7)')" = bafkr4i
check "  marked as a loadable GGUF model" test "$(json_get "$BODY" j.gguf)" = data/weights/tiny.gguf
http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/a.ai"
check "the same upload again is 200, existed" test "$STATUS:$(json_get "$BODY" j.existed)" = "200:true"
http POST /v2/artifacts --data-binary "@$TMP/a.ai"
check "upload without the key is 401" test "$STATUS" = 401

http GET /v2/artifacts "${AUTH[@]}"
check "list has it" test "$(json_get "$BODY" 'j.data.length + ":" + j.data[0].metadata.name')" = "1:node-test"

STATUS=$(curl -s -o "$TMP/dl.ai" -D "$TMP/dl.h" -w '%{http_code}' "${AUTH[@]}" "$NODE_URL/v2/artifacts/$HASH")
check "download is 200" test "$STATUS" = 200
check "  the same bytes" cmp -s "$TMP/dl.ai" "$TMP/a.ai"
check "  advertising ranges" grep -qi '^accept-ranges: bytes' "$TMP/dl.h"
STATUS=$(curl -s -o "$TMP/part" -D "$TMP/part.h" -w '%{http_code}' "${AUTH[@]}" -H "Range: bytes=1000-1999" "$NODE_URL/v2/artifacts/$HASH")
check "a range is 206" test "$STATUS" = 206
check "  with Content-Range" grep -qi "^content-range: bytes 1000-1999/$SIZE" "$TMP/part.h"
check "  and those bytes" cmp -s "$TMP/part" <(dd if="$TMP/a.ai" bs=1 skip=1000 count=1000 2>/dev/null)
STATUS=$(curl -s -o "$TMP/tail" -w '%{http_code}' "${AUTH[@]}" -H "Range: bytes=-100" "$NODE_URL/v2/artifacts/$HASH")
check "a suffix range is 206 with the last bytes" bash -c "test '$STATUS' = 206 && cmp -s '$TMP/tail' <(tail -c 100 '$TMP/a.ai')"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" -H "Range: bytes=$SIZE-" "$NODE_URL/v2/artifacts/$HASH")
check "a range past the end is 416" test "$STATUS" = 416

http GET "/v2/artifacts/$HASH/manifest" "${AUTH[@]}"
check "the manifest" test "$STATUS:$(json_get "$BODY" 'j.file_count')" = "200:2"
http GET "/v2/artifacts/0000000000000000000000000000000000000000000000000000000000000000" "${AUTH[@]}"
check "an unknown hash is 404" test "$STATUS" = 404
http GET "/v2/artifacts/not-a-hash" "${AUTH[@]}"
check "a malformed hash is 400" test "$STATUS" = 400

# hostile uploads
python3 - "$TMP/evil.ai" "$TMP/a.ai" <<'EOF'
import sys, zipfile
src = zipfile.ZipFile(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n in src.namelist():
        z.writestr(n, src.read(n))
    z.writestr("data/../../../escape.txt", b"x")
EOF
http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/evil.ai"
check "a traversal archive is 400 (got $STATUS)" test "$STATUS" = 400
check "  with the rule as the error code" test "$(json_get "$BODY" j.error.code)" = path_traversal
head -c 5000 /dev/urandom > "$TMP/junk.ai"
http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/junk.ai"
check "junk is 400 not_zip" test "$STATUS:$(json_get "$BODY" j.error.code)" = "400:not_zip"
check "nothing was stored" test "$(ls "$NODE_STORAGE/artifacts/tmp" | wc -l)" = 0
check "  and no upload file is left" test "$(ls "$NODE_STORAGE/tmp" | wc -l)" = 0
http GET /v2/artifacts "${AUTH[@]}"
check "  the list still has one" test "$(json_get "$BODY" j.data.length)" = 1

# the node as a backend for the CLI
export HANZO_NODE_KEY=$KEY
check "pull from the node" "$H" ai pull "$HASH" --from "node:$NODE_URL" -o "$TMP/pulled.ai" --quiet
check "  the same bytes" cmp -s "$TMP/pulled.ai" "$TMP/a.ai"
head -c 1500000 "$TMP/a.ai" > "$TMP/resumed.ai.part"
printf '%s' "$NODE_URL/v2/artifacts/$HASH" > "$TMP/resumed.ai.part.src"
check "a partial pull from the node resumes" "$H" ai pull "$HASH" --from "node:$NODE_URL" -o "$TMP/resumed.ai" --quiet
check "  correctly" cmp -s "$TMP/resumed.ai" "$TMP/a.ai"
mkdir -p "$TMP/src2"
printf 'second artifact\n' > "$TMP/src2/data.jsonl"
"$H" ai pack "$TMP/src2" -o "$TMP/b.ai" --type Dataset:task=TextGeneration --name ds --quiet >/dev/null
check "push to the node" "$H" ai push "$TMP/b.ai" --to "node:$NODE_URL" --quiet
http GET /v2/artifacts "${AUTH[@]}"
check "  now two" test "$(json_get "$BODY" j.data.length)" = 2
# an upload over the 16 MiB in-memory body limit: streamed to a file, verified, stored
mkdir -p "$TMP/mid"
head -c 40000000 /dev/urandom > "$TMP/mid/weights.bin"
"$H" ai pack "$TMP/mid" -o "$TMP/mid.ai" --type Weights --name mid --quiet >/dev/null
MID=$(json_get "$("$H" ai info "$TMP/mid.ai" --json)" j.content_hash)
http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/mid.ai"
check "a 40 MB upload is 201 (got $STATUS)" test "$STATUS:$(json_get "$BODY" j.content_hash)" = "201:$MID"
check "  and leaves no upload file behind" test "$(ls "$NODE_STORAGE/tmp" | wc -l)" = 0
STATUS=$(curl -s -o "$TMP/mid-dl.ai" -w '%{http_code}' "${AUTH[@]}" "$NODE_URL/v2/artifacts/$MID")
check "  its download is 200" test "$STATUS" = 200
check "  with the same bytes" cmp -s "$TMP/mid-dl.ai" "$TMP/mid.ai"
# an artifact over the old 64 MiB response cap, put straight into the node's store folder
mkdir -p "$TMP/big"
head -c 70000000 /dev/urandom > "$TMP/big/weights.bin"
"$H" ai pack "$TMP/big" -o "$TMP/big.ai" --type Weights --name big --quiet >/dev/null
BIG=$(json_get "$("$H" ai info "$TMP/big.ai" --json)" j.content_hash)
BIGSIZE=$(stat -c %s "$TMP/big.ai")
check "a store folder shared with the running node" "$H" ai push "$TMP/big.ai" --to "$NODE_STORAGE/artifacts" --quiet
STATUS=$(curl -s -o "$TMP/big-dl.ai" -w '%{http_code}' "${AUTH[@]}" "$NODE_URL/v2/artifacts/$BIG")
check "a plain GET of a 70 MB archive is 200" test "$STATUS" = 200
check "  the same bytes" cmp -s "$TMP/big-dl.ai" "$TMP/big.ai"
STATUS=$(curl -s -o "$TMP/big-part" -D "$TMP/big-part.h" -w '%{http_code}' "${AUTH[@]}" -H "Range: bytes=68000000-" "$NODE_URL/v2/artifacts/$BIG")
check "a range past 64 MiB is 206" test "$STATUS" = 206
check "  with Content-Range" grep -qi "^content-range: bytes 68000000-$((BIGSIZE - 1))/$BIGSIZE" "$TMP/big-part.h"
check "  and those bytes" cmp -s "$TMP/big-part" <(tail -c +68000001 "$TMP/big.ai")
check "pull fetches it from the node" "$H" ai pull "$BIG" --from "node:$NODE_URL" -o "$TMP/big-pulled.ai" --quiet
check "  the same bytes" cmp -s "$TMP/big-pulled.ai" "$TMP/big.ai"
HANZO_NODE_KEY=wrong "$H" ai push "$TMP/b.ai" --to "node:$NODE_URL" --quiet 2>"$TMP/e401" && fail "push with a wrong key" || ok "push with a wrong key fails"
check "  with HTTP 401" grep -q "HTTP 401" "$TMP/e401"
unset HANZO_NODE_KEY

# a Model artifact with real GGUF weights becomes a model the node serves
mkdir -p "$TMP/model"
"$HZ_TOOLS_DIR/gguf_gen" chat "$TMP/model/weights.gguf" --seed 3
"$H" ai pack "$TMP/model" -o "$TMP/m.ai" --type Model --name "Tiny Chat/v1" --quiet >/dev/null
MHASH=$(json_get "$("$H" ai info "$TMP/m.ai" --json)" j.content_hash)
http POST /v2/artifacts "${AUTH[@]}" --data-binary "@$TMP/m.ai"
check "a Model artifact upload is 201 (got $STATUS)" test "$STATUS" = 201
check "  and is served as model Tiny-Chat-v1" test "$(json_get "$BODY" j.model)" = Tiny-Chat-v1
check "  whose weights were copied out intact" cmp -s "$TMP/model/weights.gguf" \
    "$NODE_STORAGE/artifacts/${MHASH:0:2}/$MHASH.models/weights.gguf"
check "the random-bytes .gguf of the first upload is not a model" \
    grep -q "not served as a model" "$NODE_ERR"

# persistence, then delete
stop_node TERM
start_node n
http GET /v2/artifacts "${AUTH[@]}"
check "artifacts survive a restart" test "$(json_get "$BODY" j.data.length)" = 5
check "the stored model is registered again at start" grep -q "1 model(s) served from stored .ai artifacts" "$NODE_ERR"
http DELETE "/v2/artifacts/$HASH" "${AUTH[@]}"
check "delete is 200" test "$STATUS" = 200
http GET "/v2/artifacts/$HASH" "${AUTH[@]}"
check "  then it is 404" test "$STATUS" = 404
http DELETE "/v2/artifacts/$HASH" "${AUTH[@]}"
check "  and deleting again is 404" test "$STATUS" = 404
stop_node TERM
check "the node stops cleanly" test "$STOP_STATUS" = 0

finish
