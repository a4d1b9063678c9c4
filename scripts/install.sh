#!/bin/sh
# Install tokenctl: pick the release binary for this machine, check it against SHA256SUMS, and
# put it in ~/.local/bin (or PREFIX/bin). Nothing is installed unless the checksum matches.
#
#   sh install.sh --from DIR          # a directory holding tokenctl-<target> and SHA256SUMS
#   sh install.sh --base-url URL      # the same files under URL/ (curl or wget)
#   TOKENCTL_RELEASE_DIR=DIR sh install.sh
#
# Options: --prefix DIR (default ~/.local; the binary goes to DIR/bin/tokenctl),
#          --target NAME (linux-x64, linux-arm64, linux-x64-musl, darwin-x64, darwin-arm64).
# Exit status: 0 installed, 1 failed or refused (checksum mismatch, no binary for this machine,
# download failed), 2 usage error. The installed path is printed on stdout, messages on stderr.
set -eu

usage() {
  echo "usage: install.sh [--from DIR | --base-url URL] [--prefix DIR] [--target NAME]" >&2
  echo "       (or set TOKENCTL_RELEASE_DIR=DIR instead of --from)" >&2
}
say() { echo "install.sh: $*" >&2; }
die() { say "$1"; exit "${2:-1}"; }

from="${TOKENCTL_RELEASE_DIR:-}"
base_url=""
prefix="${HOME:-}/.local"
target=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from) [ $# -ge 2 ] || { usage; exit 2; }; from="$2"; shift 2 ;;
    --from=*) from="${1#--from=}"; shift ;;
    --base-url) [ $# -ge 2 ] || { usage; exit 2; }; base_url="$2"; shift 2 ;;
    --base-url=*) base_url="${1#--base-url=}"; shift ;;
    --prefix) [ $# -ge 2 ] || { usage; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --target) [ $# -ge 2 ] || { usage; exit 2; }; target="$2"; shift 2 ;;
    --target=*) target="${1#--target=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) say "unknown argument: $1"; usage; exit 2 ;;
  esac
done

if [ -n "$base_url" ] && [ -n "$from" ]; then say "give one source: --from DIR (or TOKENCTL_RELEASE_DIR) or --base-url URL"; usage; exit 2; fi
if [ -z "$base_url" ] && [ -z "$from" ]; then say "no release source: --from DIR, TOKENCTL_RELEASE_DIR or --base-url URL"; usage; exit 2; fi
if [ -n "$from" ] && [ ! -d "$from" ]; then die "--from $from: not a directory" 2; fi
[ -n "$prefix" ] || die "--prefix is empty (and HOME is not set)" 2

# The release name for this machine.
detect_target() {
  os=$(uname -s)
  machine=$(uname -m)
  case "$machine" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no tokenctl release for CPU $machine" ;;
  esac
  case "$os" in
    Linux)
      libc=""
      # glibc answers GNU_LIBC_VERSION; musl (Alpine) has no such variable and says so in ldd.
      if ! getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
        if (ldd --version 2>&1 || true) | grep -qi musl; then libc=-musl; fi
      fi
      [ "$arch$libc" != "arm64-musl" ] || die "no tokenctl release for linux-arm64 with musl (there is linux-x64-musl and linux-arm64 for glibc)"
      echo "linux-$arch$libc"
      ;;
    Darwin)
      # An x86_64 shell under Rosetta 2 on Apple silicon: the native arm64 binary is the one to run.
      if [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then arch=arm64; fi
      echo "darwin-$arch"
      ;;
    *) die "no tokenctl release for $os" ;;
  esac
}

if [ -z "$target" ]; then
  target=$(detect_target) || exit 1
fi
case "$target" in
  linux-x64 | linux-arm64 | linux-x64-musl | darwin-x64 | darwin-arm64) ;;
  *) say "unknown target: $target"; usage; exit 2 ;;
esac
name="tokenctl-$target"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

fetch() { # fetch NAME: copy or download one release file into $tmp
  if [ -n "$from" ]; then
    [ -f "$from/$1" ] || die "$from/$1: no such file"
    cp "$from/$1" "$tmp/$1"
  elif command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto '=https,http' -o "$tmp/$1" "${base_url%/}/$1" || die "could not download ${base_url%/}/$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$tmp/$1" "${base_url%/}/$1" || die "could not download ${base_url%/}/$1"
  else
    die "neither curl nor wget is installed"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else die "no sha256sum, shasum or openssl to check the download with"
  fi
}

say "installing $name"
fetch SHA256SUMS
fetch "$name"
# "<64 hex>  tokenctl-<target>" (text mode) or "<64 hex> *tokenctl-<target>" (binary mode).
expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$tmp/SHA256SUMS")
case "$expected" in
  "") die "SHA256SUMS has no line for $name; refusing to install" ;;
  *[!0-9a-f]*) die "SHA256SUMS has a malformed or repeated line for $name; refusing to install" ;;
esac
[ ${#expected} -eq 64 ] || die "SHA256SUMS has a malformed line for $name; refusing to install"
actual=$(sha256 "$tmp/$name")
if [ "$actual" != "$expected" ]; then
  say "checksum mismatch for $name: SHA256SUMS says $expected, the file is $actual"
  die "refusing to install"
fi

bindir="${prefix%/}/bin"
mkdir -p "$bindir"
# Into place by rename in the same directory, so a running tokenctl is never half-overwritten.
chmod 755 "$tmp/$name"
cp "$tmp/$name" "$bindir/.tokenctl.$$"
mv -f "$bindir/.tokenctl.$$" "$bindir/tokenctl"
say "checksum ok ($actual)"
if version=$("$bindir/tokenctl" --version 2>/dev/null); then say "installed tokenctl $version"; fi
case ":${PATH:-}:" in
  *":$bindir:"*) ;;
  *) say "note: $bindir is not on PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
echo "$bindir/tokenctl"
