#!/usr/bin/env bash
# Install the `nectr` binary for the GitHub Action (action.yml calls this; so can you).
#
#   1. Pick the release asset for the runner: RUNNER_OS/RUNNER_ARCH (or uname) ->
#      nectr-<target>.tar.gz, target one of x86_64/aarch64-unknown-linux-musl and
#      x86_64/aarch64-apple-darwin.
#   2. Reuse $RUNNER_TOOL_CACHE/nectr/<version>/<arch>/nectr when it is there and its
#      recorded SHA-256 still matches; nothing is downloaded then.
#   3. Otherwise download SHA256SUMS and the asset from
#      $GITHUB_SERVER_URL/$NECTR_REPOSITORY/releases/download/<version>/, verify the asset's
#      SHA-256 (a mismatch is fatal), unpack it into the tool cache.
#   4. No release for that version (a branch, a SHA, a local `uses: ./`) or no asset for this
#      platform: build from source with `cargo install --locked --path $GITHUB_ACTION_PATH`,
#      installing Rust with rustup first if cargo is missing.
#   5. Append the binary's directory to $GITHUB_PATH; write `path`, `version` and `source`
#      (cache|release|source) to $GITHUB_OUTPUT.
#
# Environment (all optional outside Actions):
#   NECTR_VERSION            release tag (v1.2.3), major/minor alias (v1, v1.2), branch or SHA.
#                            Empty: the action's own ref (NECTR_ACTION_REF), else build from source.
#   NECTR_ACTION_REF         the action's ref (action.yml passes github.action_ref).
#   NECTR_REPOSITORY         owner/name of the releases (default nectr-ai/nectr).
#   GITHUB_SERVER_URL        web base (default https://github.com; GHES: https://HOST).
#   GITHUB_ACTION_PATH       the action's checkout, the source for a build (default: this repo).
#   RUNNER_TOOL_CACHE        tool cache root (default: $RUNNER_TEMP or $TMPDIR, under nectr-tool-cache).
#   NECTR_INSTALL_DRY_BUILD  1: print the cargo command of a source build instead of running it.
set -euo pipefail

log() { printf 'install-nectr: %s\n' "$*" >&2; }
die() {
  # One annotation for the Actions UI, plain text elsewhere (the workflow command is harmless).
  printf '::error title=nectr install::%s\n' "$*"
  exit 1
}
warn() { printf '::warning title=nectr install::%s\n' "$*"; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action_path="${GITHUB_ACTION_PATH:-$(cd "$script_dir/.." && pwd)}"
server_url="${GITHUB_SERVER_URL:-https://github.com}"
server_url="${server_url%/}"
repository="${NECTR_REPOSITORY:-nectr-ai/nectr}"
version="${NECTR_VERSION:-}"
[ -n "$version" ] || version="${NECTR_ACTION_REF:-}"
tmp_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
tool_cache="${RUNNER_TOOL_CACHE:-$tmp_root/nectr-tool-cache}"

case "$repository" in
  */*) ;;
  *) die "NECTR_REPOSITORY must be owner/name, got '$repository'" ;;
esac
case "$version" in
  *..* | /* | */) die "version '$version' is not a valid git ref; use a release tag such as v1.2.3" ;;
  *[!A-Za-z0-9._/+-]*) die "version '$version' has characters a git ref cannot have; use a release tag such as v1.2.3" ;;
esac

# ---------------------------------------------------------------------------------------
# Platform
os="${RUNNER_OS:-}"
if [ -z "$os" ]; then
  case "$(uname -s)" in
    Linux) os=Linux ;;
    Darwin) os=macOS ;;
    MINGW* | MSYS* | CYGWIN*) os=Windows ;;
    *) os="$(uname -s)" ;;
  esac
fi
arch="${RUNNER_ARCH:-}"
if [ -z "$arch" ]; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=X64 ;;
    aarch64 | arm64) arch=ARM64 ;;
    *) arch="$(uname -m)" ;;
  esac
fi
target=""
case "$os/$arch" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
esac
arch_dir="$(printf '%s' "$arch" | tr '[:upper:]' '[:lower:]')"
exe=nectr
[ "$os" = Windows ] && exe=nectr.exe

# ---------------------------------------------------------------------------------------
# Helpers
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    die "neither sha256sum nor shasum is installed; cannot verify the download"
  fi
}

# fetch URL FILE -> prints the final HTTP status (000 when no connection). Retries transient
# failures (timeouts, 429, 5xx) with curl's own backoff.
fetch() {
  local code
  code="$(curl --silent --show-error --location --retry 3 --retry-connrefused \
    --connect-timeout 20 --max-time 300 --output "$2" --write-out '%{http_code}' "$1")" || code="${code:-000}"
  printf '%s' "$code"
}

emit() {
  # emit PATH SOURCE: check the binary runs, then publish it to the calling workflow.
  local reported
  if reported="$("$1" --version 2>&1)"; then
    log "ready: $reported ($2) at $1"
  elif [ "$2" = source ] && [ "${NECTR_INSTALL_DRY_BUILD:-}" = 1 ]; then
    log "dry build: $1 was not built"
  else
    die "the installed binary does not run on this runner ($os/$arch): $reported"
  fi
  if [ -n "${GITHUB_PATH:-}" ]; then
    dirname "$1" >> "$GITHUB_PATH"
  fi
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
      printf 'path=%s\n' "$1"
      printf 'version=%s\n' "$version"
      printf 'source=%s\n' "$2"
    } >> "$GITHUB_OUTPUT"
  fi
}

# The version in the action checkout's Cargo.toml ([package] version), or empty.
cargo_version() {
  [ -f "$action_path/Cargo.toml" ] || return 0
  awk '
    /^\[/ { in_pkg = ($0 ~ /^\[package\][[:space:]]*$/) ; next }
    in_pkg && /^version[[:space:]]*=/ {
      sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
    }' "$action_path/Cargo.toml"
}

# version_lt A B: is dotted version A older than B (1.93.1 < 1.94)?
version_lt() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    na = split(a, x, "."); nb = split(b, y, "."); n = (na > nb ? na : nb)
    for (i = 1; i <= n; i++) { if ((x[i] + 0) < (y[i] + 0)) exit 0; if ((x[i] + 0) > (y[i] + 0)) exit 1 }
    exit 1 }'
}

# A cargo new enough for the crate's rust-version: rustup installs Rust when cargo is
# missing, and the latest stable when the runner's toolchain is older than rust-version.
ensure_rust() {
  local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$cargo_bin/cargo" ]; then
      export PATH="$cargo_bin:$PATH"
    else
      log "cargo not found: installing Rust with rustup"
      curl --proto '=https' --tlsv1.2 --silent --show-error --fail --retry 3 https://sh.rustup.rs \
        | sh -s -- -y --profile minimal --no-modify-path \
        || die "could not install Rust with rustup; install a Rust toolchain before this step or use a release tag"
      export PATH="$cargo_bin:$PATH"
    fi
  fi
  local need have
  need="$(awk '/^\[/ { in_pkg = ($0 ~ /^\[package\]/); next }
    in_pkg && /^rust-version[[:space:]]*=/ { sub(/^[^"]*"/, ""); sub(/".*$/, ""); print; exit }' "$action_path/Cargo.toml")"
  have="$(cargo --version | awk '{print $2}')"
  have="${have%%-*}"
  if [ -n "$need" ] && [ -n "$have" ] && version_lt "$have" "$need"; then
    command -v rustup >/dev/null 2>&1 \
      || die "nectr needs Rust $need or newer to build; this runner has $have and no rustup"
    log "cargo $have is older than the rust-version $need: installing the latest stable with rustup"
    rustup toolchain install stable --profile minimal --no-self-update \
      || die "rustup could not install stable Rust (needed: $need or newer)"
    export RUSTUP_TOOLCHAIN=stable
  fi
}

build_from_source() {
  local why="$1" root cmd
  log "building from source: $why"
  if [ ! -f "$action_path/Cargo.toml" ]; then
    die "no release asset for version '${version:-<none>}' on $os/$arch, and no source to build at '$action_path' (GITHUB_ACTION_PATH)"
  fi
  # An immutable ref (a full commit SHA) can live in the tool cache; anything else (a branch,
  # a local checkout) is built into this job's temp dir and never reused.
  if [[ "$version" =~ ^[0-9a-f]{40}$ ]]; then
    root="$tool_cache/nectr/$version/$arch_dir"
  else
    root="$tmp_root/nectr-source-build"
  fi
  cmd=(cargo install --locked --path "$action_path" --root "$root" --bin nectr --force)
  if [ "${NECTR_INSTALL_DRY_BUILD:-}" = 1 ]; then
    printf 'dry build:'; printf ' %q' "${cmd[@]}"; printf '\n'
    emit "$root/bin/$exe" source
    return 0
  fi
  ensure_rust
  mkdir -p "$root"
  "${cmd[@]}" || die "cargo install failed (see the build log above); pin the action to a release tag such as v1 to use a prebuilt binary"
  local bin="$root/bin/$exe"
  [ -x "$bin" ] || die "cargo install finished but $bin is missing"
  if [[ "$version" =~ ^[0-9a-f]{40}$ ]]; then
    sha256_of "$bin" > "$bin.sha256"
  fi
  emit "$bin" source
}

# ---------------------------------------------------------------------------------------
# Decide
if [ -z "$version" ]; then
  build_from_source "no version given (a local 'uses: ./' or no action ref)"
  exit 0
fi
if [ -z "$target" ]; then
  build_from_source "no prebuilt binary for $os/$arch"
  exit 0
fi
# A moving major/minor tag (v1, v1.2) points at the newest matching release commit, whose
# Cargo.toml names the exact release: use its assets (the alias itself has no release).
if [[ "$version" =~ ^v[0-9]+(\.[0-9]+)?$ ]]; then
  pkg_version="$(cargo_version)"
  case "$pkg_version" in
    "${version#v}".*)
      log "resolved $version to v$pkg_version (the action checkout's Cargo.toml)"
      version="v$pkg_version"
      ;;
    *) log "cannot resolve $version to a release from Cargo.toml (version '${pkg_version:-none}'); trying $version as is" ;;
  esac
fi

asset="nectr-$target.tar.gz"
cache_dir="$tool_cache/nectr/$version/$arch_dir"
cached_bin="$cache_dir/$exe"

# ---------------------------------------------------------------------------------------
# Tool cache
if [ -x "$cached_bin" ] && [ -f "$cached_bin.sha256" ] && [ -f "$cache_dir.complete" ]; then
  if [ "$(sha256_of "$cached_bin")" = "$(cat "$cached_bin.sha256")" ]; then
    log "tool cache hit: $cache_dir"
    emit "$cached_bin" cache
    exit 0
  fi
  warn "the cached nectr at $cache_dir does not match its recorded checksum; downloading again"
fi

# ---------------------------------------------------------------------------------------
# Download and verify
base="$server_url/$repository/releases/download/$version"
work="$(mktemp -d "$tmp_root/nectr-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log "downloading $base/SHA256SUMS"
code="$(fetch "$base/SHA256SUMS" "$work/SHA256SUMS")"
case "$code" in
  200) ;;
  404)
    build_from_source "'$version' has no release at $server_url/$repository (a branch or commit rather than a release tag?)"
    exit 0
    ;;
  *) die "downloading $base/SHA256SUMS failed (HTTP $code); check the network or GITHUB_SERVER_URL" ;;
esac

expected="$(awk -v f="$asset" '{ n = $2; sub(/^\*/, "", n); if (n == f) { print tolower($1); exit } }' "$work/SHA256SUMS")"
if [ -z "$expected" ]; then
  build_from_source "release $version has no $asset"
  exit 0
fi
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "SHA256SUMS of $version has a malformed entry for $asset"

log "downloading $base/$asset"
code="$(fetch "$base/$asset" "$work/$asset")"
case "$code" in
  200) ;;
  404)
    build_from_source "release $version lists $asset in SHA256SUMS but has no such file"
    exit 0
    ;;
  *) die "downloading $base/$asset failed (HTTP $code)" ;;
esac

actual="$(sha256_of "$work/$asset")"
if [ "$actual" != "$expected" ]; then
  die "SHA-256 mismatch for $asset of $version: expected $expected, got $actual. The download is corrupt or was tampered with; not installing it"
fi
log "verified SHA-256 $actual"

mkdir -p "$work/unpacked"
tar -xzf "$work/$asset" -C "$work/unpacked" || die "could not unpack $asset"
found="$(find "$work/unpacked" -type f -name "$exe" | head -n 1)"
[ -n "$found" ] || die "$asset has no '$exe' binary inside"

rm -rf "$cache_dir" "$cache_dir.complete"
mkdir -p "$cache_dir"
cp "$found" "$cached_bin"
chmod 0755 "$cached_bin"
sha256_of "$cached_bin" > "$cached_bin.sha256"
printf '%s  %s\n' "$actual" "$asset" > "$cache_dir/$asset.sha256"
touch "$cache_dir.complete"
emit "$cached_bin" release
