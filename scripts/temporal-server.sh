#!/usr/bin/env bash
# The real Temporal server (not the CLI's dev server) on Postgres, on this machine: the shape a
# production cluster has, for measuring (BENCH_TEMPORAL=server npm run bench) and for trying it out.
#
#   scripts/temporal-server.sh schema              create the two databases and bring their schemas up to date
#   scripts/temporal-server.sh config <dir>        write <dir>/temporal.yaml and its dynamic config; prints the frontend address
#   scripts/temporal-server.sh run <dir>           run the server with that config (foreground)
#   scripts/temporal-server.sh register <address>  the namespace (TEMPORAL_NAMESPACE [default]) and our search attributes, when missing
#   scripts/temporal-server.sh drop                drop the two databases
#   scripts/temporal-server.sh start <dir>         schema, config, run, register; Ctrl-C stops it
#   scripts/temporal-server.sh build               print the server binary's path, building it when missing
#
# Environment (defaults in brackets): TEMPORAL_DB [temporal], TEMPORAL_VISIBILITY_DB [temporal_visibility],
# TEMPORAL_PG_HOST [127.0.0.1], TEMPORAL_PG_PORT [5432], TEMPORAL_PG_USER [postgres], TEMPORAL_PG_PASSWORD [],
# TEMPORAL_PORT (frontend gRPC) [a free one], TEMPORAL_SHARDS [8], TEMPORAL_SCHEMA_DIR [the Go module's
# schema/postgresql/v12], TEMPORAL_SQL_TOOL [temporal-sql-tool built here]. The binaries are built with Go
# into .tools/bin the first time (a few minutes).
set -euo pipefail
version="v1.29.1" # later releases need a newer Go than many machines have
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OPENHOOKS_TOOLS_DIR:-$root/.tools/bin}"
db="${TEMPORAL_DB:-temporal}"
visibility_db="${TEMPORAL_VISIBILITY_DB:-temporal_visibility}"
pg_host="${TEMPORAL_PG_HOST:-127.0.0.1}"
pg_port="${TEMPORAL_PG_PORT:-5432}"
pg_user="${TEMPORAL_PG_USER:-postgres}"
pg_password="${TEMPORAL_PG_PASSWORD:-}"

find_go() {
  command -v go >/dev/null 2>&1 && return
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [ -x "$candidate" ] && PATH="$(dirname "$candidate"):$PATH" && return
  done
  echo "Building the Temporal server needs Go 1.23+ (https://go.dev/dl)." >&2
  exit 1
}

# The server and temporal-sql-tool from the server module at $version, built once into $tools.
ensure_binaries() {
  [ -x "$tools/temporal-server" ] && [ -x "$tools/temporal-sql-tool" ] && return
  find_go
  mkdir -p "$tools"
  echo "Building the Temporal server $version with Go into $tools (first run only, a few minutes)..." >&2
  local build
  build="$(mktemp -d)"
  GOBIN="$build" GOFLAGS="${GOFLAGS:--buildvcs=false}" go install \
    "go.temporal.io/server/cmd/server@$version" "go.temporal.io/server/cmd/tools/sql@$version" >&2
  # Renamed: `server` and `sql` say too little next to the CLI's `temporal` in one folder.
  mv "$build/server" "$tools/temporal-server"
  mv "$build/sql" "$tools/temporal-sql-tool"
  rmdir "$build"
}

sql_tool() {
  local tool="${TEMPORAL_SQL_TOOL:-}"
  if [ -z "$tool" ]; then ensure_binaries; tool="$tools/temporal-sql-tool"; fi
  "$tool" --plugin postgres12 --endpoint "$pg_host" --port "$pg_port" --user "$pg_user" --password "$pg_password" "$@"
}

# The versioned schema directories ship in the server module's source, not in the binaries.
schema_dir() {
  if [ -n "${TEMPORAL_SCHEMA_DIR:-}" ]; then echo "$TEMPORAL_SCHEMA_DIR"; return; fi
  find_go
  local module
  module="$(cd "$tools" && go mod download -json "go.temporal.io/server@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  echo "$module/schema/postgresql/v12"
}

# Idempotent: an existing database is kept, and update-schema applies only the versions it lacks.
cmd_schema() {
  local dir
  dir="$(schema_dir)"
  for pair in "$db:temporal" "$visibility_db:visibility"; do
    local name="${pair%%:*}" kind="${pair##*:}"
    if ! sql_tool --db "$name" setup-schema -v 0.0 >/dev/null 2>&1; then
      sql_tool --db "$name" create-database >&2
      sql_tool --db "$name" setup-schema -v 0.0 >&2
    fi
    sql_tool --db "$name" update-schema -d "$dir/$kind/versioned" >&2
  done
}

cmd_drop() {
  for name in "$db" "$visibility_db"; do sql_tool --db "$name" drop-database --force >&2; done
}

# N distinct TCP ports on loopback that were free a moment ago, below 32768: the server keeps
# membership ports in a Postgres smallint, and the kernel hands out ephemeral ports above it.
free_ports() {
  node -e '
    const net = require("node:net");
    const want = Number(process.argv[1]);
    const held = [];
    const tryPort = (port) => new Promise((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => { held.push(s); resolve(true); });
    });
    (async () => {
      for (let i = 0; i < 200 && held.length < want; i++) await tryPort(20000 + Math.floor(Math.random() * 12000));
      if (held.length < want) { console.error("no free ports"); process.exit(1); }
      console.log(held.map((s) => s.address().port).join(" "));
      held.forEach((s) => s.close());
    })();' "$1"
}

cmd_config() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local ports line
  line="$(free_ports 8)"
  read -r -a ports <<<"$line"
  local frontend="${TEMPORAL_PORT:-${ports[0]}}"
  # The same dynamic config as docker-compose.yml's server.
  cp "$root/deploy/temporal/dynamicconfig.yaml" "$dir/dynamicconfig.yaml"
  cat >"$dir/temporal.yaml" <<YAML
# Written by scripts/temporal-server.sh: Postgres for both stores, every service on loopback.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${TEMPORAL_SHARDS:-8}
  datastores:
$(for store in "default:$db:20" "visibility:$visibility_db:10"; do
  IFS=: read -r name database conns <<<"$store"
  cat <<STORE
    $name:
      sql:
        pluginName: postgres12
        databaseName: "$database"
        connectAddr: "$pg_host:$pg_port"
        connectProtocol: tcp
        user: "$pg_user"
        password: "$pg_password"
        maxConns: $conns
        maxIdleConns: $conns
        maxConnLifetime: 1h
STORE
done)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: { grpcPort: $frontend, membershipPort: ${ports[1]}, bindOnLocalHost: true }
  history:
    rpc: { grpcPort: ${ports[2]}, membershipPort: ${ports[3]}, bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: ${ports[4]}, membershipPort: ${ports[5]}, bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: ${ports[6]}, membershipPort: ${ports[7]}, bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$frontend"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$dir/dynamicconfig.yaml"
  pollInterval: 10s
YAML
  echo "127.0.0.1:$frontend"
}

cmd_run() {
  ensure_binaries
  exec "$tools/temporal-server" --root "$1" --config . --env temporal --allow-no-auth start
}

# The same command the compose file's temporal-setup service runs (cli/temporal-setup.ts): it waits
# for the server, then creates what is missing.
cmd_register() {
  TEMPORAL_ADDRESS="$1" node "$root/bin/openhooks.js" temporal setup --timeout 60s >&2
}

cmd_start() {
  local dir="$1" address
  cmd_schema
  address="$(cmd_config "$dir")"
  ensure_binaries
  "$tools/temporal-server" --root "$dir" --config . --env temporal --allow-no-auth start &
  local server=$!
  trap 'kill "$server" 2>/dev/null; wait "$server"' INT TERM
  cmd_register "$address"
  echo "Temporal server at $address (config in $dir); Ctrl-C stops it." >&2
  wait "$server"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

case "${1:-}" in
  schema) cmd_schema ;;
  drop) cmd_drop ;;
  config) [ $# -eq 2 ] || usage; cmd_config "$2" ;;
  run) [ $# -eq 2 ] || usage; cmd_run "$(cd "$2" && pwd)" ;;
  register) [ $# -eq 2 ] || usage; cmd_register "$2" ;;
  start) [ $# -eq 2 ] || usage; mkdir -p "$2"; cmd_start "$(cd "$2" && pwd)" ;;
  build) ensure_binaries; echo "$tools/temporal-server" ;;
  *) usage ;;
esac
