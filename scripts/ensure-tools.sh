#!/usr/bin/env bash
# Installs the Debian tools the test suites call (npm's pretest runs this). Idempotent: does
# nothing when everything is present. Needs root (or sudo) on a Debian/Ubuntu machine.
set -euo pipefail

# command -> Debian package
declare -A TOOLS=(
  [shellcheck]=shellcheck
  [dot]=graphviz
  [busybox]=busybox-static
  # test/bootstrap-ssh.test.ts: a real sshd on loopback, the Docker engine it bootstraps, sudo
  [sshd]=openssh-server
  [ssh]=openssh-client
  [dockerd]=docker.io
  [sudo]=sudo
  # test/workflows.test.ts runs the failed-preview comment step, which filters with jq
  [jq]=jq
  # test/replica-verify.test.ts: a real restic repository verified without its key
  [restic]=restic
)
# Extra tools for the end-to-end suite: scripts/ensure-tools.sh --e2e
if [[ "${1:-}" == "--e2e" ]]; then
  TOOLS+=([dockerd]=docker.io [sshd]=openssh-server [restic]=restic [syncthing]=syncthing [ip]=iproute2 [iptables]=iptables [docker-registry]=docker-registry [curl]=curl [openssl]=openssl [nsenter]=util-linux)
fi

missing=()
for cmd in "${!TOOLS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "/usr/sbin/$cmd" ]] || missing+=("${TOOLS[$cmd]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "ensure-tools: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "ensure-tools: need root to install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null 2>&1 || { echo "ensure-tools: no apt-get; install ${missing[*]} by hand" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
