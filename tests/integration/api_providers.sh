# Provider management over the node API: add, list, modify, test, remove; the API key is never
# answered, never logged and never stored in clear (hanzo.db is searched byte for byte); the
# providers survive a restart; bad bodies are 400s naming the field; /v2/usage answers with
# time ranges and groups; per-key request limits answer 429 with Retry-After.
source "$HZ_TEST_HELPERS/common.sh"

SECRET="sk-test-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SECRET2="sk-second-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Port 1 on loopback: nothing listens there, so connecting fails at once.
DEAD="http://127.0.0.1:1/v1"

start_node n
KEY=$(cat "$NODE_STORAGE/api_key")
AUTH=(-H "Authorization: Bearer $KEY")
JSON=(-H "Content-Type: application/json")
post() { local path=$1 body=$2; http POST "$path" "${AUTH[@]}" "${JSON[@]}" --data-binary "$body"; }
no_secret() { ! grep -qF -- "$SECRET" <<<"$1" && ! grep -qF -- "$SECRET2" <<<"$1"; }
contains() { grep -qF -- "$2" <<<"$1"; }
# in_files NEEDLE FILE...: the bytes occur in one of the files
in_files() { local needle=$1; shift; grep -qaF -- "$needle" "$@"; }
not_in_files() { ! in_files "$@"; }

http GET /v2/llm_providers "${AUTH[@]}"
check "an empty node lists no providers (got $STATUS $BODY)" test "$STATUS:$(json_get "$BODY" j.data.length)" = "200:0"
http GET /v2/llm_providers
check "listing without the key is 401" test "$STATUS" = 401

post /v2/add_llm_provider "{\"id\":\"mock\",\"type\":\"openai-compatible\",\"base_url\":\"$DEAD\",\"api_key\":\"$SECRET\",\"models\":[\"m1\"]}"
check "add is 201 (got $STATUS $BODY)" test "$STATUS" = 201
check "  answers the provider" test "$(json_get "$BODY" 'j.id + " " + j.base_url + " " + j.models.join(",")')" = "mock $DEAD m1"
check "  with has_api_key" test "$(json_get "$BODY" j.has_api_key)" = true
check "  and never the key" no_secret "$BODY"

post /v2/add_llm_provider "{\"id\":\"mock\",\"type\":\"openai\"}"
check "adding a taken id is 409 (got $STATUS)" test "$STATUS:$(json_get "$BODY" j.error.param)" = "409:id"
post /v2/add_llm_provider '{"id":"x","type":"openai","apiKey":"k","baseUrl":"http://h"}'
check "unknown fields are a 400 naming them (got $STATUS $BODY)" \
  test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:apiKey"
check "  every one of them" contains "$(json_get "$BODY" j.error.message)" baseUrl
post /v2/add_llm_provider '{"id":"x","type":"openai","models":"gpt"}'
check "a field of the wrong type is a 400 naming it" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:models"
post /v2/add_llm_provider '{"id":"x","type":"warp-drive"}'
check "an unknown type is a 400 naming type" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:type"
post /v2/add_llm_provider '{"id":"x",'
check "malformed JSON is a 400" test "$STATUS" = 400

http GET /v2/llm_providers "${AUTH[@]}"
check "the list has it" test "$(json_get "$BODY" 'j.data.map(p => p.id).join(",")')" = mock
check "  without the key" no_secret "$BODY"

http GET /v1/models "${AUTH[@]}"
check "its models appear in /v1/models as provider/model" \
  test "$(json_get "$BODY" 'j.data.some(m => m.id === "mock/m1")')" = true

post /v2/modify_llm_provider '{"id":"mock","models":["m1","m2"],"idle_timeout_ms":9000}'
check "modify is 200 (got $STATUS $BODY)" test "$STATUS" = 200
check "  the models changed" test "$(json_get "$BODY" 'j.models.join(",")')" = "m1,m2"
check "  the key was kept" test "$(json_get "$BODY" j.has_api_key)" = true
post /v2/modify_llm_provider '{"id":"nobody","models":[]}'
check "modifying an unknown id is 404" test "$STATUS" = 404
post /v2/modify_llm_provider '{"id":"mock","type":"warp-drive"}'
check "a bad modify is a 400 naming the field" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:type"

post /v2/test_llm_provider '{"id":"mock"}'
check "testing an unreachable stored provider answers 200 (got $STATUS $BODY)" test "$STATUS" = 200
check "  ok:false" test "$(json_get "$BODY" j.ok)" = false
check "  with an error saying why" test -n "$(json_get "$BODY" '(j.error && j.error.message) || ""')"
check "  and no key" no_secret "$BODY"
post /v2/test_llm_provider "{\"id\":\"adhoc\",\"type\":\"openai-compatible\",\"base_url\":\"$DEAD\",\"api_key\":\"$SECRET2\",\"model\":\"m1\"}"
check "testing a full config that is unreachable: ok:false (got $STATUS $BODY)" \
  test "$STATUS:$(json_get "$BODY" j.ok)" = "200:false"
check "  and no key" no_secret "$BODY"
post /v2/test_llm_provider '{"id":"ghost"}'
check "testing an unknown stored id is 404" test "$STATUS" = 404
http GET /v2/llm_providers "${AUTH[@]}"
check "a tested config is not saved" test "$(json_get "$BODY" j.data.length)" = 1

http GET "/v2/scan_ollama_models?base_url=ftp://nowhere" "${AUTH[@]}"
check "scanning a non-http URL is a 400 naming base_url" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:base_url"
http GET "/v2/scan_ollama_models?base_url=http://127.0.0.1:1&timeout_ms=2000" "${AUTH[@]}"
check "scanning an unreachable Ollama is an error, not a hang (got $STATUS)" test "$STATUS" -ge 500

# usage: one local chat, then the totals
http POST /v1/chat/completions "${AUTH[@]}" "${JSON[@]}" \
  --data-binary '{"model":"hanzo-tiny-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"temperature":0}'
check "a local chat works (got $STATUS)" test "$STATUS" = 200
http GET /v2/usage "${AUTH[@]}"
check "usage answers (got $STATUS $BODY)" test "$STATUS" = 200
check "  counting the chat" test "$(json_get "$BODY" 'j.total.requests >= 1 && j.total.completion_tokens >= 1')" = true
NOW_MS=$(( $(date +%s) * 1000 + 60000 ))
http GET "/v2/usage?from=2020-01-01T00:00:00Z&to=$NOW_MS&group_by=model" "${AUTH[@]}"
check "usage by model over an RFC 3339 .. ms range" \
  test "$STATUS:$(json_get "$BODY" 'j.groups.some(g => g.key === "hanzo-tiny-chat")')" = "200:true"
http GET "/v2/usage?to=2020-01-01T00:00:00Z" "${AUTH[@]}"
check "a range before anything happened is empty" test "$STATUS:$(json_get "$BODY" j.total.requests)" = "200:0"
http GET "/v2/usage?from=yesterday" "${AUTH[@]}"
check "a bad from is a 400 naming it" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:from"
http GET "/v2/usage?group_by=colour" "${AUTH[@]}"
check "a bad group_by is a 400 naming it" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:group_by"

# restart: the provider and its key come back; the key is nowhere in the database files
stop_node TERM
check "the secret file is 0600" test "$(stat -c %a "$NODE_STORAGE/secret.key")" = 600
check "the secret file is 32 bytes" test "$(stat -c %s "$NODE_STORAGE/secret.key")" = 32
DBFILES=("$NODE_STORAGE"/hanzo.db*)
check "hanzo.db exists" test -s "$NODE_STORAGE/hanzo.db"
check "the database holds the provider" in_files "$DEAD" "${DBFILES[@]}"
check "but not its key, in any database file" not_in_files "$SECRET" "${DBFILES[@]}"
check "  nor a slice of it" not_in_files "${SECRET:8:16}" "${DBFILES[@]}"
check "the log never shows a key" not_in_files "$SECRET" "$NODE_ERR" "$NODE_OUT"
check "  nor the tested one" not_in_files "$SECRET2" "$NODE_ERR" "$NODE_OUT"

start_node n
http GET /v2/llm_providers "${AUTH[@]}"
check "after a restart the provider is back" test "$(json_get "$BODY" 'j.data.map(p => p.id + ":" + p.models.join("+") + ":" + p.has_api_key).join(",")')" = "mock:m1+m2:true"
http GET /v2/usage "${AUTH[@]}"
check "  and so is the usage" test "$(json_get "$BODY" 'j.total.requests >= 1')" = true

post /v2/remove_llm_provider '{"id":"mock","extra":1}'
check "remove with an unknown field is a 400 naming it" test "$STATUS:$(json_get "$BODY" j.error.param)" = "400:extra"
post /v2/remove_llm_provider '{"id":"mock"}'
check "remove is 200 (got $STATUS $BODY)" test "$STATUS:$(json_get "$BODY" j.deleted)" = "200:true"
post /v2/remove_llm_provider '{"id":"mock"}'
check "removing it again is 404" test "$STATUS" = 404
http GET /v1/models "${AUTH[@]}"
check "its models left /v1/models" test "$(json_get "$BODY" 'j.data.some(m => m.id.startsWith("mock/"))')" = false
stop_node TERM
start_node n
http GET /v2/llm_providers "${AUTH[@]}"
check "and it stays removed after a restart" test "$(json_get "$BODY" j.data.length)" = 0
stop_node TERM

# a secret file others can read: the node refuses to start, saying how to fix it
chmod 644 "$NODE_STORAGE/secret.key"
if start_node n 2>/dev/null; then
  fail "a group/other-readable secret.key should stop the node"
  stop_node TERM
else
  check "a world-readable secret.key is refused with a fix" grep -q "chmod 600" "$NODE_ERR"
fi
chmod 600 "$NODE_STORAGE/secret.key"

# per-key limits: two requests a minute, the third is a 429 with Retry-After
start_node limited --rpm 2
KEY=$(cat "$NODE_STORAGE/api_key")
AUTH=(-H "Authorization: Bearer $KEY")
CHAT='{"model":"hanzo-tiny-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"temperature":0}'
post /v1/chat/completions "$CHAT"; S1=$STATUS
post /v1/chat/completions "$CHAT"; S2=$STATUS
post /v1/chat/completions "$CHAT"
check "the first two requests pass ($S1 $S2)" test "$S1:$S2" = "200:200"
check "the third is a 429 (got $STATUS $BODY)" test "$STATUS" = 429
RA=$(grep -i '^retry-after:' <<<"$HEADERS" | tr -dc 0-9)
check "  with Retry-After within the minute (got '$RA')" test -n "$RA" -a "${RA:-0}" -ge 1 -a "${RA:-99}" -le 60
stop_node TERM

finish
