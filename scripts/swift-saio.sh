#!/usr/bin/env bash
# A one-node OpenStack Swift ("Swift All In One") from Debian 12 packages, for tests and benchmarks.
#
#   scripts/swift-saio.sh start    install what is missing, write configs, build rings, start, wait
#   scripts/swift-saio.sh stop     stop only the processes this script started (via PID files)
#   scripts/swift-saio.sh status   exit 0 when every process runs and GET /auth/v1.0 works
#   scripts/swift-saio.sh start --with-pfs-middleware HOST:PORT BYPASS_MODE
#        as start, with our pfs filter (middleware/) in the :8080 pipeline after auth, slo and dlo
#        (as ProxyFS has it), talking to proxyfsd's JSON-RPC port HOST:PORT; a running proxy is
#        restarted when its pfs settings change. A later plain `start` on a running SAIO leaves
#        it as it is; `restart` goes back to the stock pipeline.
#   scripts/swift-saio.sh pfs-proxy PORT BYPASS_MODE HOST:PORT
#        an extra proxy on 127.0.0.1:PORT with the pfs filter, sharing rings, backends, memcached
#        and tempauth users with :8080 (left untouched); restarted when its config changed
#   scripts/swift-saio.sh pfs-proxy-stop PORT
#
# Proxy on 127.0.0.1:8080 with tempauth user test:tester / testing (account AUTH_test, .admin).
# Idempotent: `start` on a running SAIO returns in about a second.
#
# Environment: SWIFT_SAIO_DIR (data dir, default /srv/swift-saio; must support user xattrs),
# SWIFT_CHUNK_SIZE (default 1 MiB), SWIFT_OBJECT_WORKERS (default 2), SWIFT_PROXY_WORKERS (default 2).
#
# Facts this relies on (see shared/reference/swift-saio.md):
# - Debian's entry points use /usr/bin/python3; the python3 on PATH may be a pyenv shim without swift.
# - swift.conf is always read from /etc/swift/swift.conf.
# - Swift's SIGTERM handler kills its own process group; we SIGTERM the parent PID only.
# - account/container run with workers = 0 (no polling parent); container-updater is off.
set -euo pipefail

DATA=${SWIFT_SAIO_DIR:-/srv/swift-saio}
CHUNK=${SWIFT_CHUNK_SIZE:-1048576}
OBJ_WORKERS=${SWIFT_OBJECT_WORKERS:-2}
PROXY_WORKERS=${SWIFT_PROXY_WORKERS:-2}
PY=/usr/bin/python3
PROXY_PORT=8080 OBJ_PORT=6010 CONT_PORT=6011 ACCT_PORT=6012 MEMCACHE_PORT=11211 LOG_PORT=6014
SERVICES=(logsink memcached account container object object-updater proxy)
MIDDLEWARE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/middleware
PFS_MW="" # "HOST:PORT MODE" from start --with-pfs-middleware
PKGS=(swift swift-proxy swift-account swift-container swift-object memcached python3-lxml)

log() { echo "swift-saio: $*" >&2; }

is_alive() { # PID file -> 0 when the process exists and is not a zombie
  local f=$1 pid state
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ]
}

auth_ok() {
  "$PY" - "$PROXY_PORT" <<'EOF' 2>/dev/null
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/auth/v1.0",
                             headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
try:
    with urllib.request.urlopen(req, timeout=3) as r:
        sys.exit(0 if r.status == 200 and r.headers.get("X-Auth-Token") else 1)
except Exception:
    sys.exit(1)
EOF
}

all_alive() {
  local s
  for s in "${SERVICES[@]}"; do is_alive "$DATA/run/$s.pid" || return 1; done
}

install_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # curl is used by the objstore benchmark; add it only when absent (passing it upgrades libcurl).
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  # Package postinst scripts would start stock services on :8080/:11211; forbid that for this run
  # unless the image already forbids it.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>"$DATA/log/apt.err"; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || true
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>"$DATA/log/apt.err" || rc=$?
  fi
  [ $own_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc -ne 0 ]; then log "apt-get failed:"; cat "$DATA/log/apt.err" >&2; exit 1; fi
}

proxy_pipeline() { # [pfs spec] -> the proxy pipeline; pfs after auth, slo and dlo (as ProxyFS has it)
  local pfs=""
  [ -n "$1" ] && pfs=" pfs"
  echo "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy container-quotas account-quotas slo dlo${pfs} versioned_writes symlink proxy-logging proxy-server"
}

pfs_filter_section() { # "HOST:PORT MODE" -> [filter:pfs] (nothing for an empty spec)
  [ -n "$1" ] || return 0
  local addr=${1% *} mode=${1#* }
  printf '[filter:pfs]\npaste.filter_factory = pfs_middleware:filter_factory\nbypass_mode = %s\nproxyfsd_host = %s\nproxyfsd_port = %s\n' \
    "$mode" "${addr%:*}" "${addr##*:}"
}

check_pfs_spec() { # HOST:PORT MODE
  [[ "$1" =~ ^[^:[:space:]]+:[0-9]+$ ]] || { log "proxyfsd address must be HOST:PORT, not '$1'"; exit 2; }
  case "$2" in off|read-only|read-write) ;; *) log "bypass mode must be off, read-only or read-write, not '$2'"; exit 2 ;; esac
  [ -f "$MIDDLEWARE_DIR/pfs_middleware/__init__.py" ] || { log "$MIDDLEWARE_DIR/pfs_middleware not found"; exit 1; }
}

stop_pid() { # PID file: SIGTERM (parent only, see above), wait up to 5 s, then SIGKILL; removes the file
  local f=$1 i
  if is_alive "$f"; then
    kill -TERM "$(cat "$f")" 2>/dev/null || true
    for i in $(seq 1 50); do is_alive "$f" || break; sleep 0.1; done
    if is_alive "$f"; then kill -KILL "$(cat "$f")" 2>/dev/null || true; fi
  fi
  rm -f "$f"
}

write_configs() {
  local etc=$DATA/etc
  if [ ! -f /etc/swift/swift.conf ]; then
    mkdir -p /etc/swift
    cat >/etc/swift/swift.conf <<'EOF'
[swift-hash]
swift_hash_path_suffix = changeme
swift_hash_path_prefix = changeme

[storage-policy:0]
name = Policy-0
default = yes
EOF
  fi
  local common="user = $(id -un)
swift_dir = $etc
devices = $DATA/srv/node
mount_check = false
bind_ip = 127.0.0.1
log_udp_host = 127.0.0.1
log_udp_port = $LOG_PORT"
  cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $PROXY_PORT
workers = $PROXY_WORKERS
log_name = proxy-server

[pipeline:main]
pipeline = $(proxy_pipeline "$PFS_MW")

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
object_chunk_size = $CHUNK
client_chunk_size = $CHUNK

[filter:tempauth]
use = egg:swift#tempauth
token_life = 86400
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester3 = testing3

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHE_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
access_log_udp_host = 127.0.0.1
access_log_udp_port = $LOG_PORT
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:account-quotas]
use = egg:swift#account_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
[filter:symlink]
use = egg:swift#symlink
EOF
  pfs_filter_section "$PFS_MW" >>"$etc/proxy-server.conf"
  cat >"$etc/account-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $ACCT_PORT
workers = 0
log_name = account-server

[pipeline:main]
pipeline = healthcheck account-server

[app:account-server]
use = egg:swift#account

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  cat >"$etc/container-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $CONT_PORT
workers = 0
log_name = container-server

[pipeline:main]
pipeline = healthcheck container-server

[app:container-server]
use = egg:swift#container

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  cat >"$etc/object-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $OBJ_PORT
workers = $OBJ_WORKERS
log_name = object-server
network_chunk_size = $CHUNK
disk_chunk_size = $CHUNK

[pipeline:main]
pipeline = healthcheck recon object-server

[app:object-server]
use = egg:swift#object

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:recon]
use = egg:swift#recon
recon_cache_path = $DATA/cache

[object-updater]
interval = 60
concurrency = 1
recon_cache_path = $DATA/cache
EOF
  cat >"$etc/logsink.py" <<'EOF'
# Receives the servers' syslog datagrams and the proxy access log on UDP and appends them to a file.
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d, _ = s.recvfrom(65536)
        f.write(d.rstrip(b"\0\n") + b"\n")
EOF
}

build_rings() {
  local etc=$DATA/etc
  [ -f "$etc/object.ring.gz" ] && [ -f "$etc/container.ring.gz" ] && [ -f "$etc/account.ring.gz" ] && return 0
  log "building rings"
  "$PY" - "$etc" "$ACCT_PORT" "$CONT_PORT" "$OBJ_PORT" <<'EOF'
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for kind, port in (("account", sys.argv[2]), ("container", sys.argv[3]), ("object", sys.argv[4])):
    b = RingBuilder(10, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
               "device": "d1", "weight": 100, "meta": ""})
    b.rebalance()
    b.save(f"{etc}/{kind}.builder")
    b.get_ring().save(f"{etc}/{kind}.ring.gz")
EOF
}

launch() { # name, command... : start detached in its own session, record the PID
  local name=$1; shift
  is_alive "$DATA/run/$name.pid" && return 0
  setsid "$@" </dev/null >>"$DATA/log/$name.log" 2>&1 &
  echo $! >"$DATA/run/$name.pid"
}

port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

do_start() {
  mkdir -p "$DATA"/{etc,log,run,cache,srv/node/d1}
  if [ -n "$PFS_MW" ] && is_alive "$DATA/run/proxy.pid" &&
     [ "$(pfs_filter_section "$PFS_MW")" != "$(sed -n '/^\[filter:pfs\]/,/^proxyfsd_port/p' "$DATA/etc/proxy-server.conf" 2>/dev/null)" ]; then
    log "restarting the proxy with pfs ($PFS_MW)"
    stop_pid "$DATA/run/proxy.pid"
  fi
  if all_alive && auth_ok; then log "already running"; return 0; fi
  local t0=$SECONDS
  install_packages
  write_configs
  build_rings
  local etc=$DATA/etc
  if ! is_alive "$DATA/run/proxy.pid" && ! port_free $PROXY_PORT; then
    log "port $PROXY_PORT is in use by a process this script did not start"; exit 1
  fi
  launch logsink "$PY" "$etc/logsink.py" $LOG_PORT "$DATA/log/swift.log"
  launch memcached /usr/bin/memcached -u "$(id -un)" -l 127.0.0.1 -p $MEMCACHE_PORT -U 0 -m 64
  launch account /usr/bin/swift-account-server "$etc/account-server.conf"
  launch container /usr/bin/swift-container-server "$etc/container-server.conf"
  launch object /usr/bin/swift-object-server "$etc/object-server.conf"
  launch object-updater /usr/bin/swift-object-updater "$etc/object-server.conf"
  if [ -n "$PFS_MW" ]; then
    launch proxy env PYTHONPATH="$MIDDLEWARE_DIR" /usr/bin/swift-proxy-server "$etc/proxy-server.conf"
  else
    launch proxy /usr/bin/swift-proxy-server "$etc/proxy-server.conf"
  fi
  local i
  for i in $(seq 1 300); do
    if auth_ok; then log "ready in $((SECONDS - t0)) s (data in $DATA)"; return 0; fi
    local s
    for s in "${SERVICES[@]}"; do
      if ! is_alive "$DATA/run/$s.pid"; then
        log "$s exited; last lines of $DATA/log/$s.log:"; tail -n 20 "$DATA/log/$s.log" >&2 || true
        exit 1
      fi
    done
    sleep 0.2
  done
  log "timed out waiting for GET /auth/v1.0"; exit 1
}

pfs_proxy_conf() { # PORT MODE HOST:PORT -> config of an extra proxy with the pfs filter
  sed -e "s/^bind_port = .*/bind_port = $1/" -e "s/^workers = .*/workers = 0/" \
      -e "s/^log_name = .*/log_name = pfs-proxy-$1/" -e "s/^pipeline = .*/pipeline = $(proxy_pipeline x)/" \
      -e '/^\[filter:pfs\]/,$d' "$DATA/etc/proxy-server.conf"
  pfs_filter_section "$3 $2"
}

do_pfs_proxy() { # PORT MODE HOST:PORT
  if [ $# -ne 3 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then echo "usage: $0 pfs-proxy PORT BYPASS_MODE PROXYFSD_HOST:PORT" >&2; exit 2; fi
  check_pfs_spec "$3" "$2"
  [ "$1" != "$PROXY_PORT" ] || { log "pfs-proxy port must differ from $PROXY_PORT"; exit 2; }
  do_start
  local port=$1 conf=$DATA/etc/proxy-server-pfs-$1.conf pidf=$DATA/run/pfs-proxy-$1.pid t0=$SECONDS want i
  want=$(pfs_proxy_conf "$@")
  if is_alive "$pidf" && [ "$want" = "$(cat "$conf" 2>/dev/null)" ] && PROXY_PORT=$port auth_ok; then
    log "pfs-proxy :$port already running"; return 0
  fi
  stop_pid "$pidf"
  if ! port_free "$port"; then log "port $port is in use by a process this script did not start"; exit 1; fi
  printf '%s\n' "$want" >"$conf"
  setsid env PYTHONPATH="$MIDDLEWARE_DIR" /usr/bin/swift-proxy-server "$conf" </dev/null >>"$DATA/log/pfs-proxy-$port.log" 2>&1 &
  echo $! >"$pidf"
  for i in $(seq 1 300); do
    if PROXY_PORT=$port auth_ok; then log "pfs-proxy :$port ($2, proxyfsd $3) ready in $((SECONDS - t0)) s"; return 0; fi
    if ! is_alive "$pidf"; then
      log "pfs-proxy :$port exited; last lines of $DATA/log/pfs-proxy-$port.log:"; tail -n 20 "$DATA/log/pfs-proxy-$port.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "timed out waiting for pfs-proxy :$port"; exit 1
}

do_stop() {
  local s f pid i
  for f in "$DATA"/run/pfs-proxy-*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  for s in "${SERVICES[@]}"; do
    f=$DATA/run/$s.pid
    if is_alive "$f"; then kill -TERM "$(cat "$f")" 2>/dev/null || true; fi
  done
  for i in $(seq 1 50); do
    local any=0
    for s in "${SERVICES[@]}"; do is_alive "$DATA/run/$s.pid" && any=1; done
    [ $any -eq 0 ] && break
    sleep 0.1
  done
  for s in "${SERVICES[@]}"; do
    f=$DATA/run/$s.pid
    if is_alive "$f"; then log "$s did not stop on SIGTERM; sending SIGKILL"; kill -KILL "$(cat "$f")" 2>/dev/null || true; fi
    rm -f "$f"
  done
  log "stopped"
}

do_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    if is_alive "$DATA/run/$s.pid"; then echo "$s: running (pid $(cat "$DATA/run/$s.pid"))"; else echo "$s: stopped"; rc=3; fi
  done
  if auth_ok; then echo "auth: ok (http://127.0.0.1:$PROXY_PORT/auth/v1.0)"; else echo "auth: failing"; rc=3; fi
  return $rc
}

case "${1:-start}" in
  start)
    if [ "${2:-}" = "--with-pfs-middleware" ]; then
      [ $# -eq 4 ] || { echo "usage: $0 start --with-pfs-middleware PROXYFSD_HOST:PORT BYPASS_MODE" >&2; exit 2; }
      check_pfs_spec "$3" "$4"
      PFS_MW="$3 $4"
    elif [ $# -gt 1 ]; then
      echo "usage: $0 start [--with-pfs-middleware PROXYFSD_HOST:PORT BYPASS_MODE]" >&2; exit 2
    fi
    do_start ;;
  pfs-proxy) shift; do_pfs_proxy "$@" ;;
  pfs-proxy-stop)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 pfs-proxy-stop PORT" >&2; exit 2; }
    stop_pid "$DATA/run/pfs-proxy-$2.pid"; log "pfs-proxy :$2 stopped" ;;
  stop) do_stop ;;
  status) do_status ;;
  restart) do_stop; do_start ;;
  *) echo "usage: $0 start [--with-pfs-middleware HOST:PORT MODE] | stop | status | restart | pfs-proxy PORT MODE HOST:PORT | pfs-proxy-stop PORT" >&2; exit 2 ;;
esac
