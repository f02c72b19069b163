#!/usr/bin/env bash
# Writes the tiny initramfs the Linux boot test and scripts/boot-linux.sh boot: an uncompressed
# "newc" cpio archive (the format the kernel unpacks: Documentation/driver-api/early-userspace/
# buffer-format.rst) holding a static busybox, /dev/console and an /init script that mounts /proc
# and /sys, prints a marker and the number of processors in /proc/cpuinfo, and powers off.
# The archive is written here (printf + cat), so no cpio program is needed; every timestamp, owner
# and inode number is fixed, so the same busybox always gives the same bytes.
#
# usage: linux-initramfs.sh OUTPUT [BUSYBOX]   (BUSYBOX defaults to /bin/busybox from busybox-static)
set -euo pipefail

out=${1:?usage: linux-initramfs.sh OUTPUT [BUSYBOX]}
busybox=${2:-/bin/busybox}
[[ -f "$busybox" ]] || { echo "linux-initramfs.sh: $busybox not found (apt-get install busybox-static)" >&2; exit 2; }
# A dynamically linked busybox (Debian's busybox package) has a PT_INTERP program header: it would not run.
if command -v readelf >/dev/null 2>&1 && readelf -lW "$busybox" | grep -q "INTERP"; then
  echo "linux-initramfs.sh: $busybox is dynamically linked; the initramfs needs busybox-static" >&2
  exit 2
fi

init=$(cat <<'EOF'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "vtx-init: userspace is running"
n=$(/bin/busybox grep -c ^processor /proc/cpuinfo)
echo "vtx-init: processors=$n"
/bin/busybox poweroff -f
EOF
)

ino=0
# pad N: zero bytes up to the next multiple of 4 after N bytes.
pad() { head -c $(( (4 - $1 % 4) % 4 )) /dev/zero; }
# header NAME MODE SIZE [RDEVMAJOR RDEVMINOR]: the 110-byte ASCII header, the name and its padding.
header() {
  ino=$((ino + 1))
  local name=$1 nsz=$(( ${#1} + 1 ))
  # magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
    "$ino" "$2" 0 0 1 0 "$3" 0 0 "${4:-0}" "${5:-0}" "$nsz" 0
  printf '%s\0' "$name"
  pad $((110 + nsz))
}
dir() { header "$1" $((0040755)) 0; }
data() { header "$1" "$2" "${#3}"; printf '%s' "$3"; pad "${#3}"; }

{
  for d in bin dev proc sys; do dir "$d"; done
  header dev/console $((0020600)) 0 5 1
  size=$(stat -c %s "$busybox")
  header bin/busybox $((0100755)) "$size"; cat "$busybox"; pad "$size"
  data bin/sh $((0120777)) busybox
  data init $((0100755)) "$init"$'\n'
  header TRAILER!!! 0 0
} > "$out"
