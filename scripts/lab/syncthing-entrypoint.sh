#!/bin/sh
# Lab copy of the official syncthing/syncthing image's /bin/entrypoint.sh (same behaviour: as
# root, drop to PUID:PGID with su-exec and run the given binary with HOME set).
set -eu

[ -n "${UMASK:-}" ] && umask "$UMASK"

if [ "$(id -u)" = '0' ]; then
  binary="$1"
  if [ -z "${PCAP:-}" ]; then
    setcap -r "$binary" 2>/dev/null || true
  else
    setcap "$PCAP" "$binary"
  fi
  chown "$PUID:$PGID" "$HOME" || true
  exec su-exec "$PUID:$PGID" env HOME="$HOME" "$@"
else
  exec "$@"
fi
