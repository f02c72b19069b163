#!/usr/bin/env bash
# Boots Debian's Linux kernel on Vtx (PC platform, 2 CPUs by default) with the tiny busybox initramfs
# of scripts/linux-initramfs.sh: the kernel prints to the serial console (this terminal), /init runs
# `grep -c ^processor /proc/cpuinfo` in userspace and powers the machine off through ACPI.
# Installs linux-image-amd64 and busybox-static with apt-get when missing (as root).
#
# usage: scripts/boot-linux.sh [CPUS]     (Vtx.Run's exit status: 0 after the ACPI power-off)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cpus=${1:-2}

install() {
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "boot-linux.sh: $1 is missing; install it: apt-get install -y $1" >&2; exit 2
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
compgen -G "/boot/vmlinuz-*" >/dev/null || install linux-image-amd64
if ! [[ -x /bin/busybox ]] || { command -v readelf >/dev/null && readelf -lW /bin/busybox | grep -q INTERP; }; then
  install busybox-static
fi
kernel=$(ls /boot/vmlinuz-* | sort | tail -1)

work=$(mktemp -d "${TMPDIR:-/tmp}/vtx-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash scripts/linux-initramfs.sh "$work/initramfs.cpio"

dotnet build samples/Vtx.Run -c Release -v q -nologo >/dev/null
exec dotnet samples/Vtx.Run/bin/Release/net10.0/Vtx.Run.dll "$kernel" --initrd "$work/initramfs.cpio" \
  --ram 256 --cpus "$cpus" --max-instructions 30000000000 \
  --cmdline "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init"
