#!/bin/sh
# Lab stand-in for alpine's su-exec USER:GROUP COMMAND... (busybox has none). The program runs
# Syncthing as 0:0; any other identity is refused loudly rather than silently run as root.
set -eu
spec=$1
shift
case "$spec" in
  0:0 | root:root | 0 | root) exec "$@" ;;
  *) echo "lab su-exec: only 0:0 is supported in this lab image, got $spec" >&2; exit 1 ;;
esac
