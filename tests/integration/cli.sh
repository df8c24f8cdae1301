# The command line: help everywhere, one-line errors with non-zero status, and
# `hanzo config show` reporting each value's source with secrets masked.
source "$HZ_TEST_HELPERS/common.sh"
export HOME="$TMP/home"
mkdir -p "$HOME"

check "hanzo help lists the commands" bash -c "'$HANZO_BIN' help | grep -q 'node' && '$HANZO_BIN' help | grep -q config"
for cmd in node config version; do
  check "hanzo $cmd --help exits 0" bash -c "'$HANZO_BIN' $cmd --help >/dev/null"
  check "hanzo help $cmd exits 0" bash -c "'$HANZO_BIN' help $cmd >/dev/null"
done
check "hanzo version names the version" bash -c "'$HANZO_BIN' version | grep -q '^hanzo 0.1.0'"

set +e
"$HANZO_BIN" frobnicate >/dev/null 2>"$TMP/err"; status=$?
set -e
check "an unknown command fails" test "$status" -ne 0
check "with one line on stderr" test "$(wc -l < "$TMP/err")" -eq 1

set +e
"$HANZO_BIN" node --no-such-flag 1 >/dev/null 2>"$TMP/err"; status=$?
set -e
check "an unknown flag fails" test "$status" -ne 0
check "naming the flag in one line" bash -c "test \$(wc -l < '$TMP/err') -eq 1 && grep -q -- '--no-such-flag' '$TMP/err'"

cat > "$TMP/hanzo.toml" <<'TOML'
node_name = "from-file"
[api]
listen = "127.0.0.1:9100"
api_key = "file-secret-value"
[log]
level = "debug"
TOML
out=$(NODE_API_LISTEN_ADDRESS=127.0.0.1:9200 "$HANZO_BIN" config show --config "$TMP/hanzo.toml" --log-level warn)
check "config show: file value and source" bash -c "grep -E 'node_name' <<<'$out' | grep -q from-file && grep -E 'node_name' <<<'$out' | grep -q file"
check "config show: env beats file" bash -c "grep -E 'api.listen' <<<'$out' | grep -q '127.0.0.1:9200' && grep -E 'api.listen' <<<'$out' | grep -q env"
check "config show: flag beats file" bash -c "grep -E 'log.level' <<<'$out' | grep -q warn && grep -E 'log.level' <<<'$out' | grep -q flag"
check "config show: defaults are labelled" bash -c "grep -E 'storage.path' <<<'$out' | grep -q default"
check "config show: the secret is masked" bash -c "! grep -q file-secret-value <<<'$out'"
json=$("$HANZO_BIN" config show --json --config "$TMP/hanzo.toml")
check "config show --json is JSON with sources" test "$(json_get "$json" 'j["node_name"].source')" = file
check "config show --json masks secrets" bash -c "! grep -q file-secret-value <<<'$json'"

printf '[api]\nlisten = 9550\n' > "$TMP/bad.toml"
set +e
"$HANZO_BIN" config show --config "$TMP/bad.toml" >/dev/null 2>"$TMP/err"; status=$?
set -e
check "a wrong type in the file fails" test "$status" -ne 0
check "naming file:line:column" grep -q "bad.toml:2:" "$TMP/err"

printf '[api]\nlisen = "x"\n' > "$TMP/typo.toml"
set +e
"$HANZO_BIN" config show --config "$TMP/typo.toml" >/dev/null 2>"$TMP/err"; status=$?
set -e
check "an unknown key fails" test "$status" -ne 0
check "naming the key and its position" bash -c "grep -q 'typo.toml:2:' '$TMP/err' && grep -q 'lisen' '$TMP/err'"

finish
