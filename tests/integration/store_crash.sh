#!/usr/bin/env bash
# Crash test for the store's write path (src/store).
#
# tests/tools/store_writer commits small batches through hz_store_begin/commit and prints each
# id only after hz_store_commit returned 0. We SIGKILL it at arbitrary moments, several rounds
# appending to the same database, then check that every acknowledged id is there with its exact
# payload, that no batch is torn, that ids have no gaps, and that PRAGMA integrity_check (both
# through the store and through the independent sqlite3 CLI) says "ok". The first round is
# killed within milliseconds, usually while hz_store_open is still creating the file or running
# migrations, so a crash mid-open/mid-migration must also leave a database the next run accepts.
#
# What this proves, and what it does not: SIGKILL is process death. A write the kernel accepted
# is in the OS page cache and survives it even without fsync, so this test checks our side of
# the contract - acknowledge only after a successful COMMIT, atomic multi-row transactions,
# WAL recovery on reopen, migrations that do not re-run or break - and would fail if any of
# those were wrong (e.g. acknowledging before commit, or committing rows one by one). It cannot
# see whether data reached the disk: synchronous=OFF would pass here and lose acknowledged
# writes only in a real power cut. That part rests on synchronous=FULL, which the unit tests
# assert is set on the writer.
#
# Mutations tried when this test was written: committing each row on its own (torn batches)
# failed every run; fully buffered stdout fails the lag check. Printing the ids just BEFORE the
# commit passed 4 of 4 runs, and that is the limit of a kill test: once SQLite has write()n the
# WAL frames the commit survives process death while its fsync is still running, so the losing
# window is the few microseconds before that write. Only a power cut would widen it.
#
# Two negative controls at the end show the checker itself can fail: an acknowledgement for a
# row that was never written, and a copy of the database with a page overwritten.
#
# Needs HZ_TOOLS_DIR (set by ctest) or STORE_WRITER=path/to/store_writer, and the sqlite3 CLI.
set -euo pipefail

WRITER="${STORE_WRITER:-${HZ_TOOLS_DIR:?HZ_TOOLS_DIR must point at the built test tools}/store_writer}"
[[ -x "$WRITER" ]] || { echo "store_crash: $WRITER is not built" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "store_crash: the sqlite3 CLI is required" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/hz_store_crash.XXXXXX")"
writer_pid=""
cleanup() {
    if [[ -n "$writer_pid" ]]; then kill -KILL "$writer_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

db="$work/data/hanzo.db"   # data/ does not exist yet: the store creates it
acked="$work/acked.txt"
: >"$acked"

# Check the crashed database. First a copy with the independent sqlite3 CLI (database plus the
# un-checkpointed WAL, as the kill left them), then the original through the product's open
# path, which has to run WAL recovery itself, checking every id, payload and batch.
check_crashed() {
    rm -rf "$work/cli" && mkdir "$work/cli"
    if [[ -e "$db" ]]; then cp "$db" "$work/cli/hanzo.db"; fi
    if [[ -e "$db-wal" ]]; then cp "$db-wal" "$work/cli/hanzo.db-wal"; fi
    last_acked="$(tail -n 1 "$acked" | grep -E '^[0-9]+$' || echo 0)"
    if [[ -s "$work/cli/hanzo.db" ]]; then
        local integrity has_table present rows unacked
        integrity="$(sqlite3 "$work/cli/hanzo.db" 'PRAGMA integrity_check')"
        if [[ "$integrity" != "ok" ]]; then
            echo "store_crash: sqlite3 integrity_check: $integrity" >&2
            exit 1
        fi
        has_table="$(sqlite3 "$work/cli/hanzo.db" "SELECT count(*) FROM sqlite_schema WHERE name = 'crash_rows'")"
        if [[ $has_table -eq 1 ]]; then
            present="$(sqlite3 "$work/cli/hanzo.db" "SELECT count(*) FROM crash_rows WHERE id <= $last_acked")"
            if [[ "$present" -ne "$last_acked" ]]; then
                echo "store_crash: sqlite3 sees $present of the acknowledged ids 1..$last_acked" >&2
                exit 1
            fi
            # Acknowledgements must not lag: each kill can cost at most the one batch (<= 4
            # rows) committed but not yet printed. More means acks are buffered, not flushed.
            rows="$(sqlite3 "$work/cli/hanzo.db" "SELECT count(*) FROM crash_rows")"
            unacked=$((rows - $(wc -l <"$acked")))
            if [[ $unacked -gt $((4 * (i + 1))) ]]; then
                echo "store_crash: $unacked committed rows were never acknowledged after $((i + 1)) kills" >&2
                exit 1
            fi
        elif [[ $last_acked -gt 0 ]]; then
            echo "store_crash: ids up to $last_acked were acknowledged but the table does not exist" >&2
            exit 1
        fi
    fi
    "$WRITER" --verify "$db" "$acked"
}

# Seconds each round runs before SIGKILL. The short ones land inside process start-up, open or
# the first migrations; the long ones mostly inside a commit's fsync. The database is checked
# after every kill, before the next round continues from the highest id present: a later round
# would otherwise re-insert ids that were acknowledged but lost, and hide the loss.
rounds=(0.005 0.02 0.05 1.5 1 2 0.3 1.2)
prev=0
for i in "${!rounds[@]}"; do
    t="${rounds[$i]}"
    "$WRITER" "$db" >>"$acked" 2>>"$work/writer.err" &
    writer_pid=$!
    sleep "$t"
    kill -KILL "$writer_pid" 2>/dev/null || true
    status=0
    wait "$writer_pid" 2>/dev/null || status=$?
    writer_pid=""
    if [[ $status -ne 137 ]]; then
        echo "store_crash: round $((i + 1)): the writer exited with status $status before it was killed" >&2
        cat "$work/writer.err" >&2
        exit 1
    fi
    now=$(wc -l <"$acked")  # complete lines only: a line cut by the kill is no acknowledgement
    echo "round $((i + 1)): killed after ${t}s, $((now - prev)) new acknowledged ids"
    # A round of a second or more has time to make progress; none means the writer is stuck.
    if [[ ${t%%.*} -ge 1 && $now -le $prev ]]; then
        echo "store_crash: round $((i + 1)) acknowledged nothing" >&2
        cat "$work/writer.err" >&2
        exit 1
    fi
    prev=$now
    check_crashed
done
if [[ $prev -lt 100 ]]; then
    echo "store_crash: only $prev acknowledged ids in total; the test proves nothing" >&2
    exit 1
fi

mode="$(stat -c %a "$db")"
dmode="$(stat -c %a "$work/data")"
if [[ "$mode" != 600 || "$dmode" != 700 ]]; then
    echo "store_crash: database mode $mode (want 600), directory mode $dmode (want 700)" >&2
    exit 1
fi

# ---- negative controls: the checker must be able to say no ---------------------------------
cp "$acked" "$work/forged.txt"
echo $((last_acked + 1000000)) >>"$work/forged.txt"
if "$WRITER" --verify "$db" "$work/forged.txt" 2>"$work/forged.err"; then
    echo "store_crash: verify accepted an acknowledgement for a row that was never written" >&2
    exit 1
fi
grep -q "is missing" "$work/forged.err"

cp "$db" "$work/corrupt.db"   # verify closed the store, so the WAL is checkpointed into the file
page_size="$(sqlite3 "$db" 'PRAGMA page_size')"
pages="$(( $(stat -c %s "$work/corrupt.db") / page_size ))"
# Overwrite a page in the middle of the table's b-tree with noise.
dd if=/dev/urandom of="$work/corrupt.db" bs="$page_size" seek=$((pages / 2)) count=1 conv=notrunc status=none
if "$WRITER" --verify "$work/corrupt.db" "$acked" 2>"$work/corrupt.err"; then
    echo "store_crash: verify accepted a database with an overwritten page" >&2
    exit 1
fi

echo "store_crash: ok ($prev acknowledged ids over ${#rounds[@]} killed rounds, all present; controls failed as they must)"
