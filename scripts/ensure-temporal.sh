#!/usr/bin/env bash
# Prints the path of a Temporal CLI binary, building it with Go when none is found.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the project-local .tools/bin, then `go install`.
set -euo pipefail
version="v1.5.1" # later tags carry replace directives and cannot be go-installed
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OPENHOOKS_TOOLS_DIR:-$root/.tools/bin}"

if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$tools/temporal" ]; then echo "$tools/temporal"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [ -x "$candidate" ] && PATH="$(dirname "$candidate"):$PATH" && break
  done
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
openhooks needs the Temporal CLI (for its dev server) and could not find it.
Install one of:
  - the Temporal CLI: https://docs.temporal.io/cli (put \`temporal\` on PATH, or set TEMPORAL_CLI), or
  - Go 1.23+ (https://go.dev/dl), and run this again: it builds the CLI into $tools.
MSG
  exit 1
fi

mkdir -p "$tools"
echo "Building the Temporal CLI $version with Go into $tools (first run only, a few minutes)..." >&2
GOBIN="$tools" GOFLAGS="${GOFLAGS:--buildvcs=false}" go install "github.com/temporalio/cli/cmd/temporal@$version" >&2
echo "Built $tools/temporal" >&2
echo "$tools/temporal"
