#!/usr/bin/env bash
# Prints the path of a Temporal CLI binary, fetching it into .tools/bin when none is found.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the project-local .tools/bin, the official release
# archive (SHA-256 checked), then `go install`. Messages go to stderr; stdout is only the path.
set -euo pipefail
version="1.5.1" # later tags carry replace directives and cannot be go-installed; one version for both ways
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OPENHOOKS_TOOLS_DIR:-$root/.tools/bin}"
release_url="https://github.com/temporalio/cli/releases/download/v$version"
work="" # the download's temporary directory, removed whatever happens
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$tools/temporal" ]; then echo "$tools/temporal"; exit 0; fi

# SHA-256 of the v1.5.1 release archives (the release's checksums.txt).
pinned_sha256() {
  case "$1" in
    linux_amd64) echo ddc95e08b0b076efd4ea9733a3f488eb7d2be875f8834e616cd2a37358b4852d ;;
    linux_arm64) echo bd1b0db9f18b051026de8bf6cc1505f2510f14bbb7a8b9a4a91fff46c77454f5 ;;
    darwin_amd64) echo bbb73e2a31135abe50a1f1cdb35030c42961df618e8ce9c60ae89f201540c5d9 ;;
    darwin_arm64) echo cca01b7ea35ad56e2a328d9ae596bf716bd22313ef63c7a761c88354457c2415 ;;
  esac
}

platform() {
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) return 1 ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) return 1 ;; esac
  echo "${os}_$arch"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# Exit status: 0 installed, 1 refused (bad checksum: never fall back past it), 2 not downloaded.
# Runs as `download || …`, where set -e is off: each step checks its own failure.
download() {
  local target archive url expected actual
  target="$(platform)" || { echo "No Temporal CLI release archive for $(uname -s) $(uname -m)." >&2; return 2; }
  archive="temporal_cli_${version}_$target.tar.gz"
  url="${TEMPORAL_CLI_DOWNLOAD_URL:-$release_url}"
  url="${url%/}/$archive"
  expected="$(printf %s "${TEMPORAL_CLI_SHA256:-$(pinned_sha256 "$target")}" | tr 'A-F' 'a-f')"
  if [ -z "$expected" ]; then
    echo "No pinned SHA-256 for $archive: set TEMPORAL_CLI_SHA256 to download it." >&2
    return 2
  fi
  if ! command -v curl >/dev/null 2>&1; then echo "curl is not installed: cannot download the Temporal CLI." >&2; return 2; fi

  mkdir -p "$tools" || return 1
  # A temporary directory next to the target, so the final mv is an atomic rename.
  work="$(mktemp -d "$tools/.temporal-download.XXXXXX")" || return 1
  echo "Downloading the Temporal CLI $version from $url ..." >&2
  if ! curl -fsSL --retry 2 --connect-timeout 20 -o "$work/$archive" "$url"; then
    echo "Could not download $url." >&2
    return 2
  fi
  actual="$(sha256_of "$work/$archive")"
  if [ "$actual" != "$expected" ]; then
    cat >&2 <<MSG
Checksum mismatch for $url:
  expected SHA-256 $expected
  got              $actual
The file was deleted and nothing was installed. If you serve your own archive through
TEMPORAL_CLI_DOWNLOAD_URL, set TEMPORAL_CLI_SHA256 to its SHA-256.
MSG
    return 1
  fi
  if ! tar -xzf "$work/$archive" -C "$work" temporal; then
    echo "$archive has no \`temporal\` file; nothing was installed." >&2
    return 1
  fi
  chmod 755 "$work/temporal" && mv "$work/temporal" "$tools/temporal" || return 1
  echo "Installed $tools/temporal" >&2
}

status=0
download || status=$?
[ -z "$work" ] || rm -rf "$work"
if [ "$status" -eq 0 ]; then echo "$tools/temporal"; exit 0; fi
if [ "$status" -eq 1 ]; then exit 1; fi
# A download the user pointed us to failed: say so rather than quietly building something else.
if [ -n "${TEMPORAL_CLI_DOWNLOAD_URL:-}" ]; then exit 1; fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [ -x "$candidate" ] && PATH="$(dirname "$candidate"):$PATH" && break
  done
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
openhooks needs the Temporal CLI (for its dev server) and could neither download nor build it.
Do one of:
  - install the Temporal CLI (https://docs.temporal.io/cli) and put \`temporal\` on PATH, or set TEMPORAL_CLI;
  - point TEMPORAL_CLI_DOWNLOAD_URL at a mirror of $release_url;
  - install Go 1.23+ (https://go.dev/dl) and run this again: it builds the CLI into $tools.
MSG
  exit 1
fi

mkdir -p "$tools"
echo "Building the Temporal CLI v$version with Go into $tools (first run only, a few minutes)..." >&2
GOBIN="$tools" GOFLAGS="${GOFLAGS:--buildvcs=false}" go install "github.com/temporalio/cli/cmd/temporal@v$version" >&2
echo "Built $tools/temporal" >&2
echo "$tools/temporal"
