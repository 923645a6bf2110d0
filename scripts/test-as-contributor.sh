#!/usr/bin/env bash
# `npm ci && npm test` the way a contributor runs it on a laptop: as a user without root or
# sudo, on a machine without apt, Docker, sshd, ShellCheck, busybox, jq, Graphviz or OpenSSH's
# client tools. Proves that `npm test` installs nothing, starts no daemon, and skips (with a
# reason) only what needs a missing tool.
#
# Run as root on Linux (it needs a mount namespace to hide the tools and a user to become):
#   scripts/test-as-contributor.sh [REF]     # REF: the commit to test (default HEAD)
# It clones the repository into a scratch folder owned by that user and leaves the machine as
# it found it (the user and the folder are removed at exit).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${1:-HEAD}
[[ $(id -u) -eq 0 ]] || { echo "test-as-contributor: run as root (it hides tools in a mount namespace)" >&2; exit 2; }

USER_NAME=hlcontrib$$
WORK=$(mktemp -d /tmp/homelab-contributor-XXXXXX)
cleanup() {
  # The run is in its own PID namespace (below): its processes are gone once it exits, so the
  # user can be removed; say so if it cannot.
  userdel "$USER_NAME" >/dev/null 2>&1 || echo "test-as-contributor: could not remove user $USER_NAME: userdel $USER_NAME" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
useradd --home-dir "$WORK/home" --create-home --shell /bin/bash "$USER_NAME"
git clone -q "$ROOT" "$WORK/home/homelab"
git -C "$WORK/home/homelab" checkout -q "$REF"
chown -R "$USER_NAME:" "$WORK"
chmod 755 "$WORK"

# What a contributor's machine lacks. Each is replaced, in this process's mount namespace only,
# by an empty file that is not executable: not found on PATH, and not runnable by absolute path.
HIDE=(apt-get apt dpkg sudo su docker dockerd containerd sshd ssh ssh-keygen ssh-agent ssh-add
  shellcheck busybox jq dot restic syncthing sqlite3 haproxy)
: >"$WORK/absent"
chmod 000 "$WORK/absent"

# Runs inside the namespace: bind the empty file over each tool, then become the user.
inner=$(cat <<'EOS'
set -euo pipefail
for t in $HIDE; do
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    if [ -e "$d/$t" ] && [ ! -L "$d" ]; then mount --bind "$ABSENT" "$d/$t"; fi
  done
done
exec setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups --reset-env \
  env HOME="$HOME_DIR" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
  bash -c 'cd ~/homelab && for t in sudo apt-get docker shellcheck busybox jq dot ssh-keygen sqlite3 haproxy; do
             p=$(command -v "$t") && [ -x "$p" ] && { echo "still on PATH: $t" >&2; exit 3; }
           done
           echo "as $(id -un) (uid $(id -u)), no sudo, apt, Docker or the test tools on PATH"
           npm ci --no-audit --no-fund && npm test'
EOS
)
HIDE="${HIDE[*]}" ABSENT="$WORK/absent" USER_NAME="$USER_NAME" HOME_DIR="$WORK/home" \
  unshare --mount --propagation private --pid --fork --mount-proc bash -c "$inner"
