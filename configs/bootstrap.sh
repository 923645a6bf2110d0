#!/bin/sh
# homelab bootstrap: turns a bare Fedora, Debian, Ubuntu or Raspberry Pi OS host into a Docker
# host the homelab program can deploy to. It replaces the old Ansible playbook.
#
# Idempotent: it only changes what is missing, so running it again is safe. The last line of
# its output says whether this run changed anything: `changed=0` or `changed=1`.
#
# Runs as root. Pulumi runs it over SSH (components/bootstrap.ts, `sh -s` with this script on
# stdin, through `sudo -n` for a non-root bootstrap user); by hand:
#   ssh root@HOST 'DEPLOY_USER=deploy sh -s' < configs/bootstrap.sh
#
# Parameters (environment variables; configs/bootstrap.ts writes them in at the marker below):
#   DEPLOY_USER           user the Docker provider logs in as: created if missing, put in group docker
#   DATA_ROOT             host directory for homelab data (restores, exports), owned by DEPLOY_USER
#   AUTHORIZED_KEYS_FILE  keys a new DEPLOY_USER accepts; default: those of the user who ran sudo
#                         (or root's); an existing ~DEPLOY_USER/.ssh/authorized_keys is never touched
#   BOOTSTRAP_DRY_RUN=1   print what would change instead of changing it (no root needed; PATH
#                         is used as given)
#   BOOTSTRAP_LOCK_WAIT   seconds the package steps wait in all for another package manager
#                         (unattended-upgrades on a fresh cloud image) to let go of its locks;
#                         default 600
#   OS_RELEASE            os-release file to read (tests)
set -eu

# @params

DEPLOY_USER=${DEPLOY_USER:-deploy}
DATA_ROOT=${DATA_ROOT:-/srv/homelab}
OS_RELEASE=${OS_RELEASE:-/etc/os-release}
DRY_RUN=${BOOTSTRAP_DRY_RUN:-0}
LOCK_WAIT=${BOOTSTRAP_LOCK_WAIT:-600}
changed=0
# sshd and sudo give root a short PATH; the engine and useradd live in sbin. A dry run keeps
# PATH as given, so tests can hide an installed engine.
[ "$DRY_RUN" = 1 ] || PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: error: %s\n' "$*" >&2
  exit 1
}

# Runs a command that changes the host (in a dry run: prints it) and records that it did.
change() {
  changed=1
  if [ "$DRY_RUN" = 1 ]; then
    log "would run: $*"
    return 0
  fi
  log "run: $*"
  "$@"
}

# The package manager family of this host: dnf (Fedora) or apt (Debian, Ubuntu, Raspberry Pi OS).
package_family() {
  [ -r "$OS_RELEASE" ] || die "cannot read $OS_RELEASE; supported: Fedora, Debian, Ubuntu, Raspberry Pi OS"
  # shellcheck source=/dev/null
  ids=$(. "$OS_RELEASE" && printf '%s' "${ID:-}${ID_LIKE:+ $ID_LIKE}")
  case " $ids " in
    " fedora "*) echo dnf ;;
    *" debian "* | *" ubuntu "* | *" raspbian "*) echo apt ;;
    *) die "unsupported system \"$ids\" ($OS_RELEASE); supported: Fedora, Debian, Ubuntu, Raspberry Pi OS" ;;
  esac
}

# Another package manager at work (unattended-upgrades at a cloud image's first boot, apt-daily,
# a person) makes apt-get fail at once, exit 100, with "E: Could not get lock FILE. It is held by
# process PID (NAME)". DPkg::Lock::Timeout (apt >= 1.9.11) makes apt itself wait, but only for
# the dpkg locks (/var/lib/dpkg/lock-frontend, /var/lib/dpkg/lock; after that wait it says
# "Unable to acquire the dpkg frontend lock ..." or "Unable to lock the administration directory
# ..."); `update` takes /var/lib/apt/lists/lock and `install` /var/cache/apt/archives/lock without
# any wait. dnf 4, and dnf5 from 5.4, wait for each other by themselves; dnf5 5.0-5.3 fails with
# "Transaction failed: Failed to obtain rpm transaction lock. Another transaction is in
# progress.", exit 1. The package commands run with LC_ALL=C, so these are the messages to match.
# Prints the first such line of the error output in file $1, without apt's "E: " (none: no lock).
lock_error() {
  sed -n -e '/^E: Could not get lock /{s/^E: //p;q;}' \
    -e '/^E: Unable to acquire the dpkg frontend lock .*another process/{s/^E: //p;q;}' \
    -e '/^E: Unable to lock the administration directory .*another process/{s/^E: //p;q;}' \
    -e '/Failed to obtain rpm transaction lock/{s/^Transaction failed: //;p;q;}' "$1"
}

# Runs function $2 (a package command through change; it may read lock_left, the seconds left)
# until it succeeds, trying again while another process holds a package manager lock, until
# lock_deadline. $1 names the step in messages.
with_lock_wait() {
  if [ "$DRY_RUN" = 1 ]; then
    lock_left=$LOCK_WAIT
    "$2"
    return 0
  fi
  errors=$(mktemp)
  while :; do
    lock_left=$((lock_deadline - $(date +%s)))
    [ "$lock_left" -gt 0 ] || lock_left=0
    rc=0
    "$2" 2>"$errors" || rc=$?
    if [ "$rc" -eq 0 ]; then
      cat "$errors" >&2
      break
    fi
    held=$(lock_error "$errors")
    if [ -z "$held" ] || [ "$(date +%s)" -ge "$lock_deadline" ]; then
      cat "$errors" >&2
      rm -f "$errors"
      [ -n "$held" ] || die "$1 failed (exit $rc); its errors are above"
      die "$1: another package manager still holds its lock after ${LOCK_WAIT} s: $held; run the bootstrap again once it is done"
    fi
    lock_left=$((lock_deadline - $(date +%s)))
    pause=$((lock_left < 5 ? lock_left : 5))
    log "waiting for another package manager: $held; trying again in $pause s (giving up in $lock_left s)"
    sleep "$pause"
  done
  rm -f "$errors"
}

apt_update() { change env LC_ALL=C apt-get update -q; }
apt_install() {
  change env LC_ALL=C DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q -o DPkg::Lock::Timeout="$lock_left" docker.io
}
dnf_install() { change env LC_ALL=C dnf install -y moby-engine; }

install_engine() {
  if command -v dockerd >/dev/null 2>&1; then
    log "docker engine: present ($(command -v dockerd))"
    return 0
  fi
  family=$(package_family)
  lock_deadline=$(($(date +%s) + LOCK_WAIT))
  # The distributions' own packages: no third-party repository or key to trust and keep current.
  case $family in
    dnf) with_lock_wait "dnf install" dnf_install ;;
    apt)
      with_lock_wait "apt-get update" apt_update
      with_lock_wait "apt-get install" apt_install
      ;;
  esac
}

enable_engine() {
  if [ -d /run/systemd/system ]; then
    systemctl is-enabled --quiet docker 2>/dev/null || change systemctl enable docker
    systemctl is-active --quiet docker 2>/dev/null || change systemctl start docker
    return 0
  fi
  # No systemd (containers, some minimal images): start it once if it is not answering.
  if ! docker version >/dev/null 2>&1 && command -v service >/dev/null 2>&1; then
    change service docker start
  else
    log "no systemd: docker.service not enabled; the system's own init must start dockerd"
  fi
}

deploy_user() {
  getent group docker >/dev/null 2>&1 || change groupadd --system docker
  if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
    # '*': no password login, yet not "locked" (sshd refuses locked accounts without PAM).
    change useradd --create-home --shell /bin/sh --password '*' "$DEPLOY_USER"
  fi
  case " $(id -nG "$DEPLOY_USER" 2>/dev/null || true) " in
    *" docker "*) ;;
    *) change usermod -aG docker "$DEPLOY_USER" ;;
  esac
  authorized_keys
}

# A new deploy user accepts the keys the bootstrap itself logged in with.
authorized_keys() {
  home=$(getent passwd "$DEPLOY_USER" | cut -d: -f6)
  home=${home:-/home/$DEPLOY_USER}
  [ -e "$home/.ssh/authorized_keys" ] && return 0
  src=${AUTHORIZED_KEYS_FILE:-$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)/.ssh/authorized_keys}
  if [ ! -s "$src" ]; then
    log "no $home/.ssh/authorized_keys and no keys in $src: add the deploy key by hand"
    return 0
  fi
  change install -d -m 0700 -o "$DEPLOY_USER" -g "$(group_of "$DEPLOY_USER")" "$home/.ssh"
  change install -m 0600 -o "$DEPLOY_USER" -g "$(group_of "$DEPLOY_USER")" "$src" "$home/.ssh/authorized_keys"
}

group_of() { id -gn "$1" 2>/dev/null || echo "$1"; }

# A directory owned by the deploy user, mode 0750.
data_dir() {
  owner="$DEPLOY_USER:$(group_of "$DEPLOY_USER")"
  if [ ! -d "$1" ]; then
    change mkdir -p "$1"
  elif [ "$(stat -c '%U:%G %a' "$1")" = "$owner 750" ]; then
    return 0
  fi
  change chown "$owner" "$1"
  change chmod 0750 "$1"
}

# Whether Docker API version $1 (major.minor) is at least 1.45, the first with volume subpath
# mounts (moby api/docs/CHANGELOG.md "v1.45 API changes"; Docker Engine 26.0), which keep each
# backup container to its own part of the backup volume.
api_has_subpath() {
  case $1 in
    *[!0-9.]* | "" | .* | *.) return 1 ;;
  esac
  major=${1%%.*}
  minor=${1#*.}
  minor=${minor%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "${minor:-0}" -ge 45 ]; }
}

verify() {
  [ "$DRY_RUN" = 1 ] && return 0
  version=$(docker version --format '{{.Server.Version}}' 2>&1) ||
    die "the docker engine does not answer: $version"
  su -s /bin/sh -c 'docker version --format "{{.Server.Version}}" >/dev/null 2>&1' "$DEPLOY_USER" ||
    die "$DEPLOY_USER cannot use docker; check that it is in group docker"
  log "docker: ok (engine $version, usable by $DEPLOY_USER)"
  api=$(docker version --format '{{.Server.APIVersion}}' 2>/dev/null) || api=""
  api_has_subpath "$api" ||
    printf 'bootstrap: warning: %s\n' "the engine speaks Docker API ${api:-?}, but the backup containers mount their parts of the backup volume as subpaths, which need API 1.45 (Docker Engine 26.0 or later): pulumi up will be refused until the engine is upgraded (Debian 13 and Fedora ship one; Debian 12 and Raspberry Pi OS bookworm ship 20.10: install Docker Engine from https://docs.docker.com/engine/install/ or upgrade the release)" >&2
}

case $DEPLOY_USER in
  "" | *[!a-z0-9_-]*) die "DEPLOY_USER: expected a user name, got \"$DEPLOY_USER\"" ;;
esac
case $DATA_ROOT in
  /*) ;;
  *) die "DATA_ROOT: expected an absolute path, got \"$DATA_ROOT\"" ;;
esac
case $LOCK_WAIT in
  "" | *[!0-9]*) die "BOOTSTRAP_LOCK_WAIT: expected a number of seconds, got \"$LOCK_WAIT\"" ;;
esac
[ "$DRY_RUN" = 1 ] || [ "$(id -u)" -eq 0 ] || die "must run as root (or through sudo)"

install_engine
enable_engine
deploy_user
data_dir "$DATA_ROOT"
data_dir "$DATA_ROOT/restore"
verify
echo "changed=$changed"
