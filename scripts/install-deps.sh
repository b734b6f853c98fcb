#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need. Idempotent and quick
# when everything is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(fuse3 libfuse3-dev attr openssl python3 git curl fio gcc pkg-config stress-ng rclone)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The kernel FUSE module (built in on most kernels); /dev/fuse must exist for the mount tests.
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
# Debian's udev rule makes /dev/fuse 0666 so users can mount through fusermount3; some images
# ship it 0600. The unprivileged-mount tests need the standard mode.
[ -e /dev/fuse ] && chmod 0666 /dev/fuse || true
