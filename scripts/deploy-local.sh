#!/usr/bin/env bash
# Deploys the whole proxyfs stack onto the LOCAL real Swift, following deploy/README.md:
#
#   scripts/deploy-local.sh start    Swift (swift-saio.sh start), proxyfsd (config under the work dir,
#                                    volume CommonVolume in AUTH_test, persisted in real Swift), and a
#                                    pfs-enabled Swift proxy (swift-saio.sh pfs-proxy, read-write);
#                                    then prints what an agent config needs and writes a sample one.
#   scripts/deploy-local.sh stop     stops the pfs proxy and proxyfsd (Swift itself is shared: left running)
#   scripts/deploy-local.sh status   exit 0 when proxyfsd and the pfs proxy run
#
# Idempotent: `start` on a running deployment with an unchanged config returns at once.
# The stock proxy on :8080 is left untouched (other tests use it); the pfs proxy gets its own port.
#
# Environment (defaults in brackets):
#   PFS_DEPLOY_DIR        work dir: proxyfsd.conf, tls/, logs, pid file [/tmp/pfs-deploy-local]
#   PFS_DEPLOY_PROXY_PORT port of the pfs-enabled Swift proxy [8195]
#   PFS_DEPLOY_JSONRPC    proxyfsd JSON-RPC port (the proxy's PROXYFS relay dials it) [12395]
#   PFS_DEPLOY_RETRYRPC   proxyfsd retryrpc port (agents dial it) [32395]
#   PFS_DEPLOY_BIN        directory holding the compiled proxyfsd.js, pfsagentd.js and the auth plug-in
#                         [<repo>/dist/src/cmd]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAIO="$ROOT/scripts/swift-saio.sh"
WORK=${PFS_DEPLOY_DIR:-/tmp/pfs-deploy-local}
PROXY_PORT=${PFS_DEPLOY_PROXY_PORT:-8195}
JSONRPC=${PFS_DEPLOY_JSONRPC:-12395}
RETRYRPC=${PFS_DEPLOY_RETRYRPC:-32395}
BIN=${PFS_DEPLOY_BIN:-$ROOT/dist/src/cmd}
NODE=${NODE:-$(command -v node)}
PIDF="$WORK/proxyfsd.pid"
CONF="$WORK/proxyfsd.conf"
LOG="$WORK/proxyfsd.log"

log() { echo "deploy-local: $*" >&2; }

for v in PROXY_PORT JSONRPC RETRYRPC; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { log "$v must be a port number, not '${!v}'"; exit 2; }
done

is_alive() { # PID file -> 0 when the process exists and is not a zombie
  local pid state
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ]
}

# The shipped example config (deploy/proxyfsd/proxyfsd.conf) with this deployment's ports and TLS
# directory: the operator's step "copy the example, adjust ports and paths".
proxyfsd_conf() {
  sed -e "s|^TCPPort:.*|TCPPort:                   $JSONRPC|" \
      -e "s|^RetryRPCPort:.*|RetryRPCPort:              $RETRYRPC|" \
      -e "s|^Directory:.*|Directory:                 $WORK/tls|" \
      "$ROOT/deploy/proxyfsd/proxyfsd.conf"
}

stop_proxyfsd() {
  local i
  if is_alive "$PIDF"; then
    kill -TERM "$(cat "$PIDF")" 2>/dev/null || true
    for i in $(seq 1 150); do is_alive "$PIDF" || break; sleep 0.1; done
    if is_alive "$PIDF"; then log "proxyfsd did not stop within 15 s; SIGKILL"; kill -KILL "$(cat "$PIDF")" 2>/dev/null || true; fi
  fi
  rm -f "$PIDF"
}

start_proxyfsd() {
  local want i start_line
  want=$(proxyfsd_conf)
  if is_alive "$PIDF" && [ -f "$CONF" ] && [ "$want" = "$(cat "$CONF")" ]; then
    log "proxyfsd already running (pid $(cat "$PIDF"))"; return 0
  fi
  stop_proxyfsd
  [ -f "$BIN/proxyfsd.js" ] || { log "$BIN/proxyfsd.js not found: run npm run build or set PFS_DEPLOY_BIN"; exit 1; }
  printf '%s\n' "$want" >"$CONF"
  touch "$LOG"
  start_line=$(( $(wc -l <"$LOG") + 1 ))
  setsid "$NODE" "$BIN/proxyfsd.js" "$CONF" </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PIDF"
  for i in $(seq 1 300); do
    if tail -n +"$start_line" "$LOG" | grep -q "proxyfsd info: serving"; then
      log "proxyfsd ready (pid $(cat "$PIDF"), JSON-RPC 127.0.0.1:$JSONRPC, retryrpc 127.0.0.1:$RETRYRPC)"; return 0
    fi
    if ! is_alive "$PIDF"; then
      log "proxyfsd exited; its log:"; tail -n +"$start_line" "$LOG" | tail -n 20 >&2; rm -f "$PIDF"; exit 1
    fi
    sleep 0.1
  done
  log "proxyfsd not serving within 30 s; its log:"; tail -n +"$start_line" "$LOG" | tail -n 20 >&2
  stop_proxyfsd; exit 1
}

# What pfsagentd needs (deploy/pfsagentd/pfsagentd.conf with these values); also written to a file.
# retryrpc address, port and CA certificate come from proxyfsd in the mount reply.
agent_conf() {
  cat <<EOF
[Agent]
FUSEVolumeName:        CommonVolume
FUSEMountPointPath:    /mnt/CommonVolume
PlugInPath:            $BIN/pfsagentd-swift-auth-plugin.js
PlugInEnvName:         SwiftAuthBlob
PlugInEnvValue:        {"AuthURL":"http://127.0.0.1:$PROXY_PORT/auth/v1.0"\\u002C"AuthUser":"test:tester"\\u002C"AuthKey":"testing"\\u002C"Account":"AUTH_test"}
LogFilePath:           $WORK/pfsagentd.log
EOF
}

do_start() {
  mkdir -p "$WORK"
  bash "$SAIO" start
  start_proxyfsd
  bash "$SAIO" pfs-proxy "$PROXY_PORT" read-write "127.0.0.1:$JSONRPC"
  agent_conf >"$WORK/pfsagentd.conf"
  cat <<EOF
deployed: Swift http://127.0.0.1:8080 (AUTH_test), pfs proxy http://127.0.0.1:$PROXY_PORT (read-write),
          proxyfsd $CONF (JSON-RPC 127.0.0.1:$JSONRPC, retryrpc 127.0.0.1:$RETRYRPC), log $LOG
agent config (sample written to $WORK/pfsagentd.conf; set FUSEMountPointPath and HTTPServerTCPPort per agent):
EOF
  agent_conf
  echo "mount: node $BIN/pfsagentd.js $WORK/pfsagentd.conf Agent.FUSEMountPointPath=/mnt/x Agent.HTTPServerTCPPort=9091"
}

do_stop() {
  bash "$SAIO" pfs-proxy-stop "$PROXY_PORT"
  stop_proxyfsd
  log "proxyfsd stopped (Swift left running: scripts/swift-saio.sh stop stops it)"
}

do_status() {
  local rc=0
  if is_alive "$PIDF"; then echo "proxyfsd: running (pid $(cat "$PIDF"))"; else echo "proxyfsd: stopped"; rc=1; fi
  local pp=/srv/swift-saio/run/pfs-proxy-$PROXY_PORT.pid
  [ -n "${SWIFT_SAIO_DIR:-}" ] && pp=$SWIFT_SAIO_DIR/run/pfs-proxy-$PROXY_PORT.pid
  if is_alive "$pp"; then echo "pfs proxy :$PROXY_PORT: running"; else echo "pfs proxy :$PROXY_PORT: stopped"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start | stop | status" >&2; exit 2 ;;
esac
