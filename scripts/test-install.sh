#!/usr/bin/env bash
# Tests scripts/install-nectr.sh against a fake GitHub release served on loopback by
# `python3 -m http.server`: download + verify + GITHUB_PATH, tool-cache reuse without any
# request, re-download of a tampered cache, a corrupt SHA256SUMS (fatal), major-tag
# resolution, and the build-from-source fallback (dry: NECTR_INSTALL_DRY_BUILD=1).
# Needs bash, python3, curl, tar and sha256sum or shasum. Used by .ci/run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
installer="$root/scripts/install-nectr.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/nectr-test-install.XXXXXX")"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; }
check() { # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'; else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# --- a fake release ------------------------------------------------------------------------
asset=nectr-x86_64-unknown-linux-musl.tar.gz
srv="$work/srv"
make_release() { # make_release VERSION
  local dir="$srv/nectr-ai/nectr/releases/download/$1" pkg="$work/pkg-$1"
  mkdir -p "$dir" "$pkg"
  printf '#!/bin/sh\necho "nectr %s (fake)"\n' "${1#v}" > "$pkg/nectr"
  chmod 0755 "$pkg/nectr"
  tar -czf "$dir/$asset" -C "$pkg" nectr
  printf '%s  %s\n' "$(sha256_of "$dir/$asset")" "$asset" > "$dir/SHA256SUMS"
}
make_release v9.9.9
make_release v9.9.8
# v9.9.8's SHA256SUMS names the right file with the wrong hash.
printf '%s  %s\n' "$(printf 'tampered' | (sha256sum 2>/dev/null || shasum -a 256) | awk '{print $1}')" "$asset" \
  > "$srv/nectr-ai/nectr/releases/download/v9.9.8/SHA256SUMS"

# --- the server ----------------------------------------------------------------------------
server_log="$work/http.log"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$srv" > "$server_log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$server_log" | head -n 1)"
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$server_log" >&2; echo "http server died" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "http server did not start" >&2; exit 1; }
echo "fake release server on 127.0.0.1:$port (pid $server_pid)"
requests() { grep -c '"GET ' "$server_log" || true; }

# --- running the installer -----------------------------------------------------------------
# run NAME [ENV=VALUE...]: one installer run with a fresh GITHUB_PATH/GITHUB_OUTPUT; sets
# $rc and leaves its output in $work/NAME.{out,path,output}.
run() {
  local name="$1"
  shift
  : > "$work/$name.path"
  : > "$work/$name.output"
  set +e
  env -i PATH="$PATH" HOME="$HOME" \
    GITHUB_SERVER_URL="http://127.0.0.1:$port" \
    RUNNER_OS=Linux RUNNER_ARCH=X64 \
    RUNNER_TEMP="$work/runner-temp" RUNNER_TOOL_CACHE="$work/toolcache" \
    GITHUB_PATH="$work/$name.path" GITHUB_OUTPUT="$work/$name.output" \
    GITHUB_ACTION_PATH="$root" \
    "$@" bash "$installer" > "$work/$name.out" 2>&1
  rc=$?
  set -e
  if [ "${VERBOSE:-}" = 1 ]; then sed "s/^/    [$name] /" "$work/$name.out"; fi
}
output_of() { sed -n "s/^$2=//p" "$work/$1.output"; }
runs_fake() { "$1" --version | grep -q "nectr 9.9.9 (fake)"; }
built_from_source() { test "$rc" -eq 0 && test "$(output_of "$1" source)" = source && grep -q "^dry build: cargo install" "$work/$1.out"; }
mkdir -p "$work/runner-temp"
cache_bin="$work/toolcache/nectr/v9.9.9/x64/nectr"

# 1. A release install: verified, cached, on GITHUB_PATH.
before="$(requests)"
run fresh NECTR_VERSION=v9.9.9
check "release install succeeds" test "$rc" -eq 0
check "binary dir is appended to GITHUB_PATH" grep -qx "$work/toolcache/nectr/v9.9.9/x64" "$work/fresh.path"
check "installed binary runs" runs_fake "$cache_bin"
check "outputs say source=release" test "$(output_of fresh source)" = release
check "downloads SHA256SUMS and the asset (2 requests)" test "$(($(requests) - before))" -eq 2

# 2. The same version again: served from the tool cache, no request at all.
before="$(requests)"
run cached NECTR_VERSION=v9.9.9
check "second install succeeds" test "$rc" -eq 0
check "second install is a tool-cache hit" test "$(output_of cached source)" = cache
check "second install makes no HTTP request" test "$(requests)" -eq "$before"
check "second install is on GITHUB_PATH too" grep -qx "$work/toolcache/nectr/v9.9.9/x64" "$work/cached.path"

# 3. A cached binary that no longer matches its recorded checksum is downloaded again.
printf 'garbage' >> "$cache_bin"
before="$(requests)"
run tampered NECTR_VERSION=v9.9.9
check "tampered cache is replaced" test "$rc" -eq 0 -a "$(output_of tampered source)" = release
check "tampered cache triggers a download" test "$(($(requests) - before))" -eq 2
check "replaced binary runs" runs_fake "$cache_bin"

# 4. A checksum mismatch is fatal and installs nothing.
run corrupt NECTR_VERSION=v9.9.8
check "checksum mismatch fails the install" test "$rc" -ne 0
check "checksum mismatch says so in an ::error::" grep -q '^::error.*SHA-256 mismatch' "$work/corrupt.out"
check "checksum mismatch adds nothing to GITHUB_PATH" test ! -s "$work/corrupt.path"
check "checksum mismatch caches nothing" test ! -e "$work/toolcache/nectr/v9.9.8/x64/nectr"

# 5. A major tag resolves through the action checkout's Cargo.toml to the exact release.
mkdir -p "$work/action-v9"
printf '[package]\nname = "nectr"\nversion = "9.9.9"\n\n[dependencies]\nversion = "0.0.1"\n' > "$work/action-v9/Cargo.toml"
run alias NECTR_ACTION_REF=v9 GITHUB_ACTION_PATH="$work/action-v9" RUNNER_TOOL_CACHE="$work/toolcache-alias"
check "major tag v9 installs release v9.9.9" test "$rc" -eq 0 -a "$(output_of alias version)" = v9.9.9 -a "$(output_of alias source)" = release

# 6. No release for the ref: build from source (dry).
run branch NECTR_VERSION=my-feature-branch NECTR_INSTALL_DRY_BUILD=1
check "a ref without a release falls back to a source build" test "$rc" -eq 0 -a "$(output_of branch source)" = source
check "the fallback runs cargo install --locked --path on the action" \
  grep -q "^dry build: cargo install --locked --path $root --root " "$work/branch.out"

# 7. A release without an asset for this platform, and an unsupported platform: source too.
run darwin NECTR_VERSION=v9.9.9 RUNNER_OS=macOS RUNNER_ARCH=ARM64 NECTR_INSTALL_DRY_BUILD=1
check "no asset for macOS/ARM64 in the release falls back to source" built_from_source darwin
run armv7 NECTR_VERSION=v9.9.9 RUNNER_ARCH=ARM NECTR_INSTALL_DRY_BUILD=1
check "an unsupported platform falls back to source" built_from_source armv7

# 8. No version at all (a local `uses: ./`): source.
run local NECTR_INSTALL_DRY_BUILD=1
check "no version (uses: ./) builds from source" built_from_source local

# 9. A version that is not a ref is refused before any request.
before="$(requests)"
run evil 'NECTR_VERSION=v1;curl evil'
check "a version with shell metacharacters is refused" test "$rc" -ne 0 -a "$(requests)" -eq "$before"

if [ "$failed" -ne 0 ]; then
  echo "--- http server log"
  cat "$server_log"
  for f in "$work"/*.out; do echo "--- $(basename "$f")"; cat "$f"; done
fi
echo "test-install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
