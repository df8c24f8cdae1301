# `hanzo pqc` end to end: the issue's examples (keygen, sign, verify), encrypted keys and their
# passphrases, key files damaged on disk, KEM round trips, sealed files (tampered, truncated,
# to the wrong key, and a large one through constant memory), privacy tiers, one-line errors,
# and `hanzo pqc hash` against Debian's b3sum: byte-identical standard output and the same exit
# status over names that need escaping, lengths, modes, standard input and --check.
source "$HZ_TEST_HELPERS/common.sh"
command -v b3sum >/dev/null || { echo "b3sum is not installed (scripts/bootstrap installs it)"; exit 1; }
cd "$TMP"
pqc() { "$HANZO_BIN" pqc "$@"; }
unset HANZO_KEY_PASSPHRASE

# expect_fail DESC NEEDLE CMD...: the command exits non-zero with exactly one line on stderr
# that contains NEEDLE.
expect_fail() {
  local what=$1 needle=$2 status=0; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || status=$?
  if [ "$status" -ne 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qF -- "$needle" "$TMP/err"; then
    ok "$what"
  else
    fail "$what (exit $status): $(cat "$TMP/err")"
  fi
}
flip_bit() { # FILE BYTE BIT: flip one bit in place
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ (1 << $3))))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---- help -------------------------------------------------------------------------------------
check "hanzo help lists pqc" bash -c "'$HANZO_BIN' help | grep -q '^  pqc '"
check "hanzo pqc --help lists the commands" bash -c "'$HANZO_BIN' pqc --help | grep -q '^  keygen' && '$HANZO_BIN' pqc --help | grep -q '^  hash'"
for sub in keygen pubkey sign verify encaps decaps seal open hash; do
  check "hanzo pqc $sub --help" bash -c "'$HANZO_BIN' pqc $sub --help | grep -q '^usage: hanzo pqc $sub'"
done
expect_fail "unknown subcommand" 'unknown command "frob"' pqc frob
expect_fail "unknown option" "unknown option --frob" pqc sign --frob
expect_fail "an option of another command" "option --encrypt is not for \`hanzo pqc sign\`" pqc sign --encrypt
expect_fail "no passphrase as a plain argument" "unknown option --passphrase" pqc keygen --passphrase hunter2 -o x

# ---- the issue's example ------------------------------------------------------------------------
printf 'pay alice 10\n' > msg
check "keygen --alg ml-dsa-65 -o alice" pqc keygen --alg ml-dsa-65 -o alice
check "alice.key is mode 0600" test "$(stat -c %a alice.key)" = 600
check "alice.pub is mode 0644" test "$(stat -c %a alice.pub)" = 644
check "alice.pub is an armored public key" grep -qx -- '-----BEGIN HANZO ML-DSA-65 PUBLIC KEY-----' alice.pub
check "alice.key is an armored secret key" grep -qx 'Encryption: none' alice.key
check "sign --key alice.key -o msg.sig msg" pqc sign --key alice.key -o msg.sig msg
check "the signature is 3309 bytes" test "$(stat -c %s msg.sig)" = 3309
check "verify: valid (exit 0)" pqc verify --key alice.pub --sig msg.sig msg
printf 'pay alice 1000\n' > msg2
expect_fail "verify: another message (exit 1)" "INVALID signature" pqc verify --key alice.pub --sig msg.sig msg2
for byte in 0 1 100 1000 3308; do
  cp msg.sig bad.sig
  flip_bit bad.sig "$byte" 3
  expect_fail "verify: signature bit flip at byte $byte" "INVALID signature" pqc verify --key alice.pub --sig bad.sig msg
done
check "sign from standard input, hex signature" bash -c "'$HANZO_BIN' pqc sign --key alice.key --format hex < msg > msg.sighex"
check "verify a hex signature, message on standard input" bash -c "'$HANZO_BIN' pqc verify --key alice.pub --sig msg.sighex - < msg >/dev/null"
check "verify with the secret key file works too" pqc verify --key alice.key --sig msg.sig msg
pqc sign --key alice.key --context "invoice 7" -o ctx.sig msg
check "verify with the right context" pqc verify --key alice.pub --sig ctx.sig --context "invoice 7" msg
expect_fail "verify without the context" "INVALID" pqc verify --key alice.pub --sig ctx.sig msg
check "deterministic signing repeats" bash -c "cd '$TMP' && cmp <('$HANZO_BIN' pqc sign --key alice.key --deterministic --format hex msg) <('$HANZO_BIN' pqc sign --key alice.key --deterministic --format hex msg)"
j=$(pqc verify --key alice.pub --sig msg.sig msg --json)
check "verify --json" test "$(json_get "$j" 'j.valid && j.alg')" = ml-dsa-65
set +e; j=$(pqc verify --key alice.pub --sig msg.sig msg2 --json 2>/dev/null); status=$?; set -e
check "verify --json, invalid: exit 1 and valid=false" test "$status:$(json_get "$j" 'j.valid')" = "1:false"
expect_fail "keygen does not overwrite" "alice.key already exists (use --force to replace it)" pqc keygen -o alice
id1=$(json_get "$(pqc pubkey --key alice.pub --json)" j.key_id)
check "keygen --force replaces" pqc keygen --force -o alice
check "with a new key" test "$(json_get "$(pqc pubkey --key alice.pub --json)" j.key_id)" != "$id1"
check "pubkey of the secret key file is alice.pub" cmp <(pqc pubkey --key alice.key) alice.pub
expect_fail "verify with the old signature and the new key" "INVALID" pqc verify --key alice.pub --sig msg.sig msg

# ---- every algorithm ---------------------------------------------------------------------------
for alg in ml-dsa-44 ml-dsa-65 ml-dsa-87; do
  j=$(pqc keygen --alg "$alg" -o "k-$alg" --json)
  check "$alg keygen --json" test "$(json_get "$j" 'j.alg + " " + j.encrypted + " " + j.key_id.length')" = "$alg false 64"
  pqc sign --key "k-$alg.key" -o "s-$alg" msg
  check "$alg sign and verify" pqc verify --key "k-$alg.pub" --sig "s-$alg" msg
done
expect_fail "a signature of another algorithm" "not an ml-dsa-87 signature" pqc verify --key k-ml-dsa-87.pub --sig s-ml-dsa-44 msg
expect_fail "--alg disagrees with the key" "the key is an ml-dsa-44 key, not an ml-dsa-65 key" pqc sign --alg ml-dsa-65 --key k-ml-dsa-44.key msg
for alg in ml-kem-512 ml-kem-768 ml-kem-1024 x-wing; do
  pqc keygen --alg "$alg" -o "k-$alg" >/dev/null
  ss=$(pqc encaps --key "k-$alg.pub" -o "ct-$alg")
  check "$alg encaps/decaps agree" test "$(pqc decaps --key "k-$alg.key" "ct-$alg")" = "$ss"
  j=$(pqc encaps --key "k-$alg.pub" --json)
  check "$alg encaps --json, hex ciphertext on standard input" \
    test "$(json_get "$j" j.ciphertext | pqc decaps --key "k-$alg.key")" = "$(json_get "$j" j.shared_secret)"
done
expect_fail "sign with a KEM key" "the key is an ml-kem-768 KEM key; a signature key is needed" pqc sign --key k-ml-kem-768.key msg
expect_fail "encaps to a signature key" "a KEM key is needed" pqc encaps --key alice.pub -o ct
expect_fail "decaps with a public key" "its secret key is needed" pqc decaps --key k-x-wing.pub ct-x-wing
expect_fail "a ciphertext of the wrong size" "not an x-wing ciphertext" pqc decaps --key k-x-wing.key ct-ml-kem-768
expect_fail "unknown algorithm" 'unknown algorithm "ml-dsa-99"' pqc keygen --alg ml-dsa-99 -o x

# raw keys
check "keygen --format raw" pqc keygen --alg ml-dsa-44 --format raw -o raw44
check "raw secret key is 2560 bytes, public 1312" test "$(stat -c %s raw44.key):$(stat -c %s raw44.pub)" = "2560:1312"
check "pubkey of a raw secret key" cmp <(pqc pubkey --key-format raw --alg ml-dsa-44 --key raw44.key --format raw) raw44.pub
pqc sign --key-format raw --alg ml-dsa-44 --key raw44.key -o raw.sig msg
check "sign and verify with raw keys" pqc verify --key-format raw --alg ml-dsa-44 --key raw44.pub --sig raw.sig msg
pqc pubkey --key-format raw --alg ml-dsa-44 --key raw44.pub -o raw44.armored
check "a raw key armored by pubkey verifies the same" pqc verify --key raw44.armored --sig raw.sig msg
expect_fail "raw without --alg" "--key-format raw needs --alg" pqc pubkey --key-format raw --key raw44.pub
expect_fail "raw bytes of the wrong size" "1312 bytes is neither an ml-dsa-65 public key" pqc pubkey --key-format raw --alg ml-dsa-65 --key raw44.pub

# ---- encrypted keys -----------------------------------------------------------------------------
printf 'correct horse battery staple\n' > pass
printf 'wrong horse\n' > wrong
check "keygen --encrypt --passphrase-file" pqc keygen --alg ml-dsa-65 --encrypt --passphrase-file pass -o enc
check "the secret file says it is encrypted" grep -qx 'Encryption: argon2id-xchacha20poly1305' enc.key
check "sign with --passphrase-file" pqc sign --key enc.key --passphrase-file pass -o enc.sig msg
check "and with HANZO_KEY_PASSPHRASE" bash -c "HANZO_KEY_PASSPHRASE='correct horse battery staple' '$HANZO_BIN' pqc sign --key '$TMP/enc.key' -o '$TMP/enc2.sig' '$TMP/msg'"
check "verify" pqc verify --key enc.pub --sig enc2.sig msg
expect_fail "wrong passphrase" "wrong passphrase" pqc sign --key enc.key --passphrase-file wrong msg
expect_fail "no passphrase" "a passphrase is needed (use --passphrase-file FILE or set HANZO_KEY_PASSPHRASE)" pqc sign --key enc.key msg
check "pubkey needs no passphrase" cmp <(pqc pubkey --key enc.key) enc.pub
expect_fail "--encrypt without a passphrase" "--encrypt needs a passphrase" pqc keygen --encrypt -o enc2
: > empty
expect_fail "an empty passphrase file" "is empty" pqc keygen --encrypt --passphrase-file empty -o enc2
check "KEM keys encrypt too" bash -c "HANZO_KEY_PASSPHRASE=pw '$HANZO_BIN' pqc keygen --alg x-wing --encrypt -o '$TMP/encx' >/dev/null"

# ---- damaged key files --------------------------------------------------------------------------
head -c 2000 alice.key > trunc.key
expect_fail "a truncated key file" "truncated: the file ends at line" pqc sign --key trunc.key msg
# byte 500 is in the base64 body: another base64 letter there changes the decoded bytes
cp alice.key flip.key
c=$(dd if=alice.key bs=1 skip=500 count=1 status=none)
if [ "$c" = A ]; then r=B; else r=A; fi
printf '%s' "$r" | dd of=flip.key bs=1 seek=500 conv=notrunc status=none
expect_fail "a changed body character" "checksum mismatch (line 131)" pqc sign --key flip.key msg
printf '#' | dd of=flip.key bs=1 seek=500 conv=notrunc status=none
expect_fail "a character that is not base64" "line 11, column 31 (byte 500): character '#' may not appear in base64" \
  pqc sign --key flip.key msg
cp alice.pub flip.pub; flip_bit flip.pub 70 1
expect_fail "a bit flip in the Key-Id header" "checksum mismatch" pqc verify --key flip.pub --sig msg.sig msg
cp alice.pub flip.pub; flip_bit flip.pub 5 7
expect_fail "a bit flip in the BEGIN line" "line 1, column 6 (byte 5)" pqc verify --key flip.pub --sig msg.sig msg
sed 's/^Version: 1$/Version: 2/' alice.pub > v2.pub
expect_fail "another version, checksum not updated" "checksum mismatch" pqc verify --key v2.pub --sig msg.sig msg
expect_fail "not a key file" "not a hanzo file" pqc verify --key msg --sig msg.sig msg
expect_fail "a missing key file" "nokey: No such file or directory" pqc sign --key nokey msg

# ---- sealed files -------------------------------------------------------------------------------
pqc keygen --alg x-wing -o bob >/dev/null
head -c 300000 /dev/urandom > doc
check "seal to an X-Wing key" pqc seal --key bob.pub -o doc.sealed doc
check "open" pqc open --key bob.key -o doc.out doc.sealed
check "gives the original" cmp doc doc.out
check "seal and open through pipes" bash -c "'$HANZO_BIN' pqc seal --key '$TMP/bob.pub' < '$TMP/doc' | '$HANZO_BIN' pqc open --key '$TMP/bob.key' | cmp - '$TMP/doc'"
pqc keygen --alg ml-kem-1024 -o carol >/dev/null
check "seal to an ML-KEM-1024 key, 1 KiB chunks" pqc seal --key carol.pub --chunk-size 1k -o c.sealed doc
check "open it" bash -c "'$HANZO_BIN' pqc open --key '$TMP/carol.key' '$TMP/c.sealed' | cmp - '$TMP/doc'"
j=$(pqc seal --key bob.pub -o j.sealed --json doc)
check "seal --json counts bytes" test "$(json_get "$j" 'j.bytes_in + " " + j.bytes_out')" = "300000 $(stat -c %s j.sealed)"
expect_fail "open with another key" "the data is sealed to key" pqc open --key k-x-wing.key doc.sealed
expect_fail "open with a key of another algorithm" "sealed to an x-wing key, but the key given is an ml-kem-1024 key" pqc open --key k-ml-kem-1024.key doc.sealed
expect_fail "seal to a signature key" "a KEM key is needed" pqc seal --key alice.pub -o x doc
expect_fail "a bad chunk size" "chunk size 1000 is not a power of two" pqc seal --key bob.pub --chunk-size 1000 -o x doc
for byte in 0 6 7 8 20 100 1190 1193 1200 5000 200000 $(( $(stat -c %s doc.sealed) - 1 )); do
  cp doc.sealed t.sealed; flip_bit t.sealed "$byte" 2
  rm -f t.out
  expect_fail "sealed file bit flip at byte $byte" "" pqc open --key bob.key -o t.out t.sealed
  check "leaves no output file (byte $byte)" test ! -e t.out
done
# truncation at every chunk boundary of the 1 KiB-chunk file, and inside chunks
header=$((41 + 1568 + 32))
n=$(( 300000 / 1024 ))
bad=0
for k in $(seq 0 "$n"); do
  head -c $((header + k * 1040)) c.sealed > t.sealed
  if pqc open --key carol.key t.sealed >/dev/null 2>"$TMP/err" || ! grep -q "truncated: the data ends after chunk $k" "$TMP/err"; then bad=$((bad + 1)); fi
done
check "truncation at each of the $((n + 1)) chunk boundaries is refused as truncated" test "$bad" -eq 0
head -c $((header + 5 * 1040 + 100)) c.sealed > t.sealed
expect_fail "truncation inside a chunk" "final chunk 5 (byte $((header + 5 * 1040))) does not authenticate" pqc open --key carol.key t.sealed
{ cat c.sealed; printf x; } > t.sealed
expect_fail "appended data" "does not authenticate" pqc open --key carol.key t.sealed
set +e
pqc open --key carol.key t.sealed > t.stdout 2> "$TMP/err"; set -e
check "on standard output the partial plaintext is flagged" grep -q "already written to standard output are incomplete" "$TMP/err"

# constant memory: sealing and opening 400 MiB must not need more memory than 1 KiB does. The
# growth is compared, not the absolute peak, so the check holds in sanitizer builds too, whose
# runtime adds a fixed overhead.
head -c 1024 /dev/zero > small
head -c $((400 << 20)) /dev/zero > big
/usr/bin/time -f %M -o rss.seal0 "$HANZO_BIN" pqc seal --key bob.pub -o small.sealed small
/usr/bin/time -f %M -o rss.open0 "$HANZO_BIN" pqc open --key bob.key -o small.out small.sealed
/usr/bin/time -f %M -o rss.seal "$HANZO_BIN" pqc seal --key bob.pub -o big.sealed big
/usr/bin/time -f %M -o rss.open "$HANZO_BIN" pqc open --key bob.key -o big.out big.sealed
check "400 MiB round trip" test "$(b3sum --no-names big)" = "$(b3sum --no-names big.out)"
seal_growth=$(( $(cat rss.seal) - $(cat rss.seal0) )); open_growth=$(( $(cat rss.open) - $(cat rss.open0) ))
check "seal of 400 MiB peaks ${seal_growth} KiB above sealing 1 KiB (< 8 MiB)" test "$seal_growth" -lt 8192
check "open of 400 MiB peaks ${open_growth} KiB above opening 1 KiB (< 8 MiB)" test "$open_growth" -lt 8192
rm -f big big.sealed big.out

# ---- privacy tiers ------------------------------------------------------------------------------
expect_fail "tier 1 keeps keys encrypted" "privacy tier 1 (At-Rest) keeps secret keys encrypted at rest: add --encrypt" pqc keygen --tier 1 -o t1
expect_fail "tier 2 needs an attestation" "privacy tier 2 (CPU TEE) needs a verified attestation of a CPU TEE; none is present" \
  pqc keygen --tier 2 --encrypt --passphrase-file pass -o t2
expect_fail "tier 4 needs an attestation" "a CPU TEE, GPU confidential computing and TEE-I/O" pqc seal --tier 4 --key carol.pub -o x doc
j=$(pqc keygen --tier 1 --encrypt --passphrase-file pass -o t1 --json)
check "tier 1 keygen picks ml-dsa-65" test "$(json_get "$j" 'j.alg + " " + j.encrypted')" = "ml-dsa-65 true"
check "tier 0 seals to X-Wing" pqc seal --tier 0 --key bob.pub -o x doc
expect_fail "tier 0 refuses category 1" "ml-kem-512 is category 1" pqc seal --tier open --key k-ml-kem-512.pub -o x doc
expect_fail "an unknown tier" 'unknown privacy tier "9"' pqc seal --tier 9 --key bob.pub -o x doc

# ---- hash: b3sum compatibility ------------------------------------------------------------------
mkdir h && cd h
printf 'hi\n' > a; printf x > 'b c'; printf y > $'n\nl'; printf z > 'back\slash'; printf w > $'inv\xffalid'
printf v > $'cut\xe2\x82'; printf u > $'mixed\\\n\xf0\x9f\x98\x80'; mkdir dir
for size in 0 1 1023 1024 1025 65536 $((1 << 20)) $((3 * 1024 * 1024 + 5)) $((40 * 1024 * 1024 + 1)); do
  head -c "$size" /dev/urandom > "f$size"
done
printf 'this is a key of 32 bytes long!!' > key32
# same_as_b3sum DESC ARGS...: identical stdout and exit status (stdin from /dev/null)
same_as_b3sum() {
  local what=$1 s1=0 s2=0; shift
  b3sum "$@" > "$TMP/b3.out" 2>/dev/null < "${STDIN:-/dev/null}" || s1=$?
  "$HANZO_BIN" pqc hash "$@" > "$TMP/hz.out" 2>"$TMP/hz.err" < "${STDIN:-/dev/null}" || s2=$?
  if [ "$s1" = "$s2" ] && cmp -s "$TMP/b3.out" "$TMP/hz.out"; then ok "hash $what"; else
    fail "hash $what: exit $s1 vs $s2; $(diff <(od -c "$TMP/b3.out") <(od -c "$TMP/hz.out") | head -5)"; fi
}
same_as_b3sum "random files of many sizes" f*
same_as_b3sum "names that need escaping or are not UTF-8" a 'b c' $'n\nl' 'back\slash' $'inv\xffalid' $'cut\xe2\x82' $'mixed\\\n\xf0\x9f\x98\x80'
same_as_b3sum "--no-names" --no-names a f1025 $'n\nl'
for t in 1 2 3 0; do same_as_b3sum "--num-threads $t" --num-threads "$t" f41943041 f3145733; done
same_as_b3sum "--no-mmap" --no-mmap f3145733 a
same_as_b3sum "--length 100" --length 100 a f41943041
same_as_b3sum "-l 0" -l 0 a
same_as_b3sum "-l5" -l5 a
same_as_b3sum "--length=1000000" --length=1000000 f65536
same_as_b3sum "--length 3000000 (streamed output)" --length 3000000 a
same_as_b3sum "--derive-key" --derive-key "hanzo 2026 test context" a f41943041
STDIN=key32 same_as_b3sum "--keyed" --keyed a f41943041 f0
STDIN=a same_as_b3sum "--keyed with a short key" --keyed a
STDIN=key32 same_as_b3sum "--keyed with - as a file" --keyed a -
same_as_b3sum "--raw" --raw f1025
same_as_b3sum "--raw --length 77" --raw --length 77 a
same_as_b3sum "--raw with two files" --raw a f0
same_as_b3sum "a missing file among others" a missing f1
same_as_b3sum "a directory" dir a
same_as_b3sum "a bad --length" --length x a
same_as_b3sum "a bad --num-threads" --num-threads x a
same_as_b3sum "--quiet without --check" --quiet a
same_as_b3sum "--check with --length" --check --length 5 a
STDIN=f3145733 same_as_b3sum "standard input" 
STDIN=f3145733 same_as_b3sum "- among files" a - f1
check "errors name the file the way b3sum does" grep -qx 'hanzo pqc hash: dir: Is a directory (os error 21)' <("$HANZO_BIN" pqc hash dir 2>&1 >/dev/null)

b3sum a 'b c' $'n\nl' 'back\slash' f* > sums
same_as_b3sum "--check, all OK" --check sums
same_as_b3sum "-c --quiet" -c --quiet sums
STDIN=sums same_as_b3sum "--check from standard input" -c
"$HANZO_BIN" pqc hash a f1 > oursums
same_as_b3sum "--check our own output" -c oursums
printf 'changed\n' >> a; rm f1
same_as_b3sum "--check with a changed and a missing file" -c sums
same_as_b3sum "-c --quiet with failures" -c --quiet sums
{
  printf '\n'
  printf 'short line\n'
  printf '%s  f0\n' "$(b3sum --no-names f0 | tr a-f A-F)"
  printf '%s f0\n' "$(b3sum --no-names f0)"
  printf '\\%s  bad\\escape\n' "$(b3sum --no-names f0)"
  printf '%s  f0\r\n' "$(b3sum --no-names f0)"
  printf '%s  f0' "$(b3sum --no-names f0)"
} > weird
same_as_b3sum "--check over malformed lines" -c weird
printf '%s  f0\n\xff\xfe\n%s  f0\n' "$(b3sum --no-names f0)" "$(b3sum --no-names f0)" > notutf8
same_as_b3sum "--check stops at invalid UTF-8" -c notutf8
same_as_b3sum "--check a missing checkfile" -c nosuchfile sums
j=$("$HANZO_BIN" pqc hash --json f1025 missing || true)
check "hash --json" test "$(json_get "$j" 'j.files[0].hash === require("child_process").execSync("b3sum --no-names f1025").toString().trim() && j.files[1].error')" = "No such file or directory (os error 2)"
cd ..

finish
