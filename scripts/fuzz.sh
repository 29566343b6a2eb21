#!/usr/bin/env bash
# Fuzzes the diff parser: scripts/fuzz.sh [SECONDS] (default 60).
#
# Installs cargo-fuzz if missing, seeds the corpus from tests/fixtures/diff/ and runs the
# `parse_diff` target for that long. Exits non-zero when libFuzzer finds a crash; the
# input is left in fuzz/artifacts/parse_diff/ — add it to tests/fixtures/diff/ with a
# regression test. Only stable Rust is needed: RUSTC_BOOTSTRAP=1 unlocks the sanitizer
# flags cargo-fuzz passes.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

corpus="fuzz/corpus/parse_diff"
mkdir -p "$corpus" fuzz/artifacts/parse_diff
# Seed with every fixture (libFuzzer names corpus entries by content hash, so re-seeding
# just adds copies under the fixture's name).
for fixture in tests/fixtures/diff/*; do
  [ -f "$fixture" ] && cp "$fixture" "$corpus/seed-$(basename "$fixture")"
done

export RUSTC_BOOTSTRAP=1
# -s none: no sanitizer. Safe Rust needs no AddressSanitizer to find panics, and the
# build and the runs are several times faster on a small machine. -a: debug assertions and
# overflow checks, so arithmetic that would wrap in release is a crash too.
exec cargo fuzz run --fuzz-dir fuzz -s none -a parse_diff "$corpus" -- \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1
