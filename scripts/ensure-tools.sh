#!/usr/bin/env bash
# Installs the Debian packages a group of test suites calls, after saying what it will install
# and why. Idempotent: does nothing when everything is present. `npm test` never runs it.
#
#   --unit    the optional tools of `npm test` (without them those suites are skipped; CI, where
#             a skip is a failure, installs them first: .ci/run)
#   --system  what `npm run test:system` needs (its npm script runs this)
#   --e2e     what `npm run test:e2e` needs (its global setup runs this)
#
# Needs root (or sudo) and apt-get, i.e. a Debian or Ubuntu machine.
set -euo pipefail

declare -A TOOLS=()
declare -A WHY=()
for group in "$@"; do
  case "$group" in
    --unit)
      # ShellCheck for the rendered scripts; busybox sh, the sidecars' shell; the workflows' jq;
      # ssh-keygen/ssh-agent for the key-handling steps; restic for a real repository verified
      # without its key (test/replica-verify.test.ts); haproxy for the backup jobs' Docker API
      # proxy, run in front of a fake Docker API (test/docker-proxy.test.ts); sqlite3 for the
      # sqlite capture's copy and integrity check (test/capture.test.ts)
      TOOLS+=([shellcheck]=shellcheck [busybox]=busybox-static [jq]=jq [ssh-keygen]=openssh-client [restic]=restic [haproxy]=haproxy [sqlite3]=sqlite3)
      WHY[--unit]="the optional tools of npm test"
      ;;
    --system)
      # test/system/bootstrap-ssh.test.ts: a real sshd on loopback, the Docker engine it
      # bootstraps, sudo
      TOOLS+=([sshd]=openssh-server [ssh]=openssh-client [dockerd]=docker.io [sudo]=sudo)
      WHY[--system]="npm run test:system"
      ;;
    --e2e)
      # the lab (scripts/lab/lab.sh) and what its suites run on this machine: PostgreSQL for
      # the dump capture replayed into a scratch database (test/e2e/dump-capture.test.ts)
      TOOLS+=([dockerd]=docker.io [sshd]=openssh-server [restic]=restic [syncthing]=syncthing [ip]=iproute2 [iptables]=iptables [docker-registry]=docker-registry [curl]=curl [openssl]=openssl [nsenter]=util-linux [busybox]=busybox-static [ssh]=openssh-client [ssh-keygen]=openssh-client [haproxy]=haproxy [sqlite3]=sqlite3 [pg_ctlcluster]=postgresql)
      WHY[--e2e]="npm run test:e2e"
      ;;
    *)
      echo "ensure-tools: unknown group '$group' (use --unit, --system or --e2e)" >&2
      exit 2
      ;;
  esac
done
if [[ ${#TOOLS[@]} -eq 0 ]]; then
  echo "usage: scripts/ensure-tools.sh --unit|--system|--e2e ..." >&2
  exit 2
fi

missing=()
for cmd in "${!TOOLS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "/usr/sbin/$cmd" ]] || missing+=("${TOOLS[$cmd]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

echo "ensure-tools: ${WHY[*]} needs Debian packages that are missing; installing with apt-get: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "ensure-tools: need root to install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null 2>&1 || { echo "ensure-tools: no apt-get; install ${missing[*]} by hand" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
