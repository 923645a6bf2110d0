#!/usr/bin/env bash
# The end-to-end lab: two isolated "servers" (home, offsite), each a network namespace with its
# own hostname, sshd and Docker engine, joined by a bridge; a local registry that both engines
# use as their Docker Hub mirror; and the restic and Syncthing images the program references,
# built from Debian 13's binaries. Test infrastructure only, never a deploy path.
#
#   scripts/lab/lab.sh up     tear down any leftover lab, then build a fresh one (prints timings)
#   scripts/lab/lab.sh down   remove everything `up` made (idempotent; by pid files and names)
#
# Env: LAB_DIR (state, default /tmp/homelab-e2e), LAB_CACHE (Debian packages, kept between
# runs, default /var/cache/homelab-e2e), LAB_TLS_NAMES (DNS names of the lab's TLS certificate).
# Needs root. Talks only to loopback and the addresses below (and to Debian's mirror via apt).
set -euo pipefail

LAB_DIR=${LAB_DIR:-/tmp/homelab-e2e}
LAB_CACHE=${LAB_CACHE:-/var/cache/homelab-e2e}
NET=10.231.5
BR=hl-e2e0
REGISTRY=$NET.1:5000
LAB_USER=hle2e
HOSTS=(home offsite)
RESTIC_IMAGE=restic/restic:0.18.0
SYNCTHING_IMAGE=syncthing/syncthing:1.29.5
# Each backup job's Docker API proxy (configs/docker-proxy.ts HAPROXY_IMAGE): this machine's
# HAProxy (Debian 12: 2.6, which the unit suite runs the generated config with too).
HAPROXY_IMAGE=haproxy:3.2.21-alpine
HERE=$(cd "$(dirname "$0")" && pwd)

ip_of() { case $1 in home) echo "$NET.11" ;; offsite) echo "$NET.12" ;; *) return 1 ;; esac; }
sock_of() { echo "/run/hl-e2e/$1/docker.sock"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "lab: $*" >&2; }

# restic 0.18 and Syncthing 1.29 from Debian 13, fetched by name with a private apt state
# (the system's apt configuration is not touched). Cached in LAB_CACHE.
fetch_binaries() {
  local T=$LAB_CACHE/apt
  if [[ -x $T/root/usr/bin/restic && -x $T/root/usr/bin/syncthing ]]; then return 0; fi
  mkdir -p "$T/lists/partial" "$T/cache/archives/partial" "$T/debs"
  local M
  M=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $M ]] || M=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  echo "deb $M trixie main" >"$T/sources.list"
  local O=(-o "Dir::Etc::SourceList=$T/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$T/lists" -o "Dir::Cache=$T/cache")
  apt-get "${O[@]}" update -qq
  (cd "$T/debs" && rm -f ./*.deb && apt-get "${O[@]}" download restic syncthing 2>/dev/null)
  rm -rf "$T/root"
  for d in "$T"/debs/*.deb; do dpkg -x "$d" "$T/root"; done
  "$T/root/usr/bin/restic" version >&2
}

# The lab's Docker engines: dockerd 26.1 and containerd 1.7 from Debian 13, because the program
# mounts repository directories as volume subpaths, which need Docker API 1.45 (Docker 26.0;
# moby api/docs/CHANGELOG.md "v1.45 API changes"), and Debian 12's docker.io is 20.10 (API
# 1.41). Both run on Debian 12's libc; runc and tini stay the system's. Cached in LAB_CACHE.
ENGINE=$LAB_CACHE/engine
fetch_engine() {
  if [[ -x $ENGINE/root/usr/sbin/dockerd && -x $ENGINE/root/usr/bin/containerd ]]; then return 0; fi
  local A=$LAB_CACHE/apt
  [[ -f $A/sources.list ]] || fetch_binaries
  mkdir -p "$ENGINE/debs" "$ENGINE/cache/archives/partial"
  local O=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$ENGINE/cache")
  (cd "$ENGINE/debs" && rm -f ./*.deb && apt-get "${O[@]}" download docker.io containerd 2>/dev/null)
  rm -rf "$ENGINE/root"
  for d in "$ENGINE"/debs/*.deb; do dpkg -x "$d" "$ENGINE/root"; done
  rm -f "$ENGINE/root/usr/bin/docker-init" # a link to tini-static, which is not extracted
  "$ENGINE/root/usr/sbin/dockerd" --version >&2
}

# A busybox rootfs with the given binaries and the shared libraries ldd reports for them.
rootfs() {
  local root=$1
  shift
  mkdir -p "$root"/{bin,sbin,etc,tmp,root,usr/bin,usr/local/bin,var,run}
  chmod 1777 "$root/tmp"
  cp /usr/bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  # alpine's busybox crond reads /etc/crontabs; Debian's busybox looks in /var/spool/cron/crontabs.
  mkdir -p "$root/etc/crontabs" "$root/var/spool/cron"
  ln -s /etc/crontabs "$root/var/spool/cron/crontabs"
  local spec src dst l
  for spec in "$@"; do
    src=${spec%%=*}
    dst=${spec#*=}
    mkdir -p "$root$(dirname "$dst")"
    cp "$src" "$root$dst"
    for l in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$l")"
      cp -L "$l" "$root$l"
    done
  done
  mkdir -p "$root/lib/x86_64-linux-gnu" "$root/etc/ssl/certs" "$root/usr/lib/ssl"
  cp -L /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 "$root/lib/x86_64-linux-gnu/" 2>/dev/null || true
  # The machine's CA bundle plus the lab CA (which stands in for Let's Encrypt).
  cat /etc/ssl/certs/ca-certificates.crt "$LAB_DIR/tls/ca.pem" >"$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null ||
    cp "$LAB_DIR/tls/ca.pem" "$root/etc/ssl/certs/ca-certificates.crt"
  ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
  ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
}

# Images with the names, binary paths, entrypoints and users of the official ones:
#   restic/restic: alpine + /usr/bin/restic, ENTRYPOINT ["/usr/bin/restic"], root.
#   syncthing/syncthing: alpine + /bin/syncthing + /bin/entrypoint.sh (drops to PUID:PGID with
#   su-exec), ENV PUID/PGID=1000 HOME=/var/syncthing STGUIADDRESS STHOMEDIR, as in its Dockerfile.
# Busybox stands in for alpine's userland; Debian's busybox wget delegates TLS to `openssl`
# (alpine's to ssl_client), so openssl is in the restic image.
build_images() {
  local B=$LAB_DIR/build bin=$LAB_CACHE/apt/root/usr/bin home_sock
  home_sock=$(sock_of home)
  rm -rf "$B" && mkdir -p "$B"
  # sqlite3: what `apk add sqlite` gives a sidecar with capture: sqlite (this machine's).
  rootfs "$B/restic" "$bin/restic=/usr/bin/restic" "/usr/bin/openssl=/usr/bin/openssl" \
    "/usr/bin/sqlite3=/usr/bin/sqlite3"
  tar -C "$B/restic" -c . | docker -H "unix://$home_sock" import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'WORKDIR /' -c 'ENTRYPOINT ["/usr/bin/restic"]' - "lab-build/restic:1" >/dev/null
  rootfs "$B/syncthing" "$bin/syncthing=/bin/syncthing"
  install -m 0755 "$HERE/syncthing-entrypoint.sh" "$B/syncthing/bin/entrypoint.sh"
  install -m 0755 "$HERE/su-exec.sh" "$B/syncthing/sbin/su-exec"
  mkdir -p "$B/syncthing/var/syncthing"
  tar -C "$B/syncthing" -c . | docker -H "unix://$home_sock" import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV PUID=1000 PGID=1000 HOME=/var/syncthing' \
    -c 'ENV STGUIADDRESS=0.0.0.0:8384 STHOMEDIR=/var/syncthing/config' \
    -c 'EXPOSE 8384 22000/tcp 22000/udp 21027/udp' -c 'VOLUME ["/var/syncthing"]' \
    -c 'ENTRYPOINT ["/bin/entrypoint.sh", "/bin/syncthing"]' - "lab-build/syncthing:1" >/dev/null
  rootfs "$B/haproxy" "/usr/sbin/haproxy=/usr/local/sbin/haproxy"
  tar -C "$B/haproxy" -c . | docker -H "unix://$home_sock" import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'WORKDIR /' -c 'CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]' - "lab-build/haproxy:1" >/dev/null
  local img
  # A mirror is asked for Docker Hub's official images as library/<name>.
  for img in "restic:1=$RESTIC_IMAGE" "syncthing:1=$SYNCTHING_IMAGE" "haproxy:1=library/$HAPROXY_IMAGE"; do
    docker -H "unix://$home_sock" tag "lab-build/${img%%=*}" "$REGISTRY/${img#*=}"
    docker -H "unix://$home_sock" push -q "$REGISTRY/${img#*=}" >/dev/null
    # Removed again: the engines get the images the way production does, by pulling.
    docker -H "unix://$home_sock" rmi "lab-build/${img%%=*}" "$REGISTRY/${img#*=}" >/dev/null
  done
  rm -rf "$B"
}

tls_material() {
  local D=$LAB_DIR/tls names=${LAB_TLS_NAMES:-localhost}
  mkdir -p "$D"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" -days 2 \
    -subj "/CN=homelab e2e lab CA" 2>/dev/null
  local san
  san=$(echo "$names" | tr ',' '\n' | sed 's/^/DNS:/' | paste -sd, -)
  openssl req -newkey rsa:2048 -nodes -keyout "$D/server.key" -out "$D/server.csr" \
    -subj "/CN=${names%%,*}" 2>/dev/null
  printf 'subjectAltName=%s\n' "$san" >"$D/ext.cnf"
  openssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
    -out "$D/server.pem" -days 2 -extfile "$D/ext.cnf" 2>/dev/null
}

up() {
  local T0 t h ip R
  T0=$(now)
  down >/dev/null 2>&1 || true
  command -v docker-registry >/dev/null || { say "docker-registry missing: run scripts/ensure-tools.sh --e2e"; exit 1; }
  t=$(now)
  fetch_binaries
  fetch_engine
  say "Debian 13 restic/syncthing and Docker engine ready ($(since "$t"))"
  mkdir -p "$LAB_DIR/ssh/bin" /run/sshd /run/hl-e2e
  chmod 755 /run/sshd
  tls_material
  ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/ssh/clientkey" -C hl-e2e-client
  chmod 644 "$LAB_DIR/ssh/clientkey.pub"
  # A login user with /bin/sh: root's ~/.bashrc may be slow, and this user only needs docker.
  id "$LAB_USER" >/dev/null 2>&1 || {
    useradd -M -d /nonexistent -s /bin/sh -G docker "$LAB_USER"
    usermod -p '*' "$LAB_USER"
  }
  : >"$LAB_DIR/ssh/known_hosts"
  # Network: a bridge in the root namespace; nothing is routed off the machine.
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  iptables -I FORWARD -i "$BR" -o "$BR" -j ACCEPT
  iptables -I INPUT -i "$BR" -j ACCEPT
  for h in "${HOSTS[@]}"; do
    ip=$(ip_of "$h")
    R=/run/hl-e2e/$h
    mkdir -p "$LAB_DIR/$h" "$R"
    ip netns add "hl-$h"
    ip link add "hl-$h-0" type veth peer name "hl-$h-1"
    ip link set "hl-$h-0" master "$BR" up
    ip link set "hl-$h-1" netns "hl-$h"
    ip -n "hl-$h" link set lo up
    ip -n "hl-$h" link set "hl-$h-1" name eth0
    ip -n "hl-$h" addr add "$ip/24" dev eth0
    ip -n "hl-$h" link set eth0 up
    ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/$h/hostkey" -C "hl-$h"
    cat >"$LAB_DIR/$h/sshd_config" <<EOC
ListenAddress $ip:22
HostKey $LAB_DIR/$h/hostkey
PidFile $LAB_DIR/$h/sshd.pid
AuthorizedKeysFile $LAB_DIR/ssh/clientkey.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $LAB_USER
StrictModes no
SetEnv DOCKER_HOST=unix://$R/docker.sock
EOC
    /usr/sbin/sshd -t -f "$LAB_DIR/$h/sshd_config"
    ip netns exec "hl-$h" unshare --uts sh -c "hostname $h && exec /usr/sbin/sshd -f $LAB_DIR/$h/sshd_config -E $LAB_DIR/$h/sshd.log"
    echo "$ip $(cut -d' ' -f1,2 "$LAB_DIR/$h/hostkey.pub")" >>"$LAB_DIR/ssh/known_hosts"
  done
  cat >"$LAB_DIR/ssh/ssh_config" <<EOC
Host $NET.*
  User $LAB_USER
  IdentityFile $LAB_DIR/ssh/clientkey
  IdentitiesOnly yes
  UserKnownHostsFile $LAB_DIR/ssh/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
EOC
  # The docker CLI execs `ssh` from PATH: a wrapper with our config comes first.
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh/ssh_config "$@"\n' "$LAB_DIR" >"$LAB_DIR/ssh/bin/ssh"
  chmod +x "$LAB_DIR/ssh/bin/ssh"
  say "2 hosts with sshd up ($(since "$T0"))"
  # The registry both engines use as their Docker Hub mirror.
  mkdir -p "$LAB_DIR/registry"
  cat >"$LAB_DIR/registry/config.yml" <<EOC
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $LAB_DIR/registry/data }
  delete: { enabled: true }
http:
  addr: $REGISTRY
EOC
  docker-registry serve "$LAB_DIR/registry/config.yml" >"$LAB_DIR/registry/registry.log" 2>&1 &
  echo $! >"$LAB_DIR/registry/registry.pid"
  for _ in $(seq 1 100); do curl -fs "http://$REGISTRY/v2/" >/dev/null && break; sleep 0.1; done
  curl -fs "http://$REGISTRY/v2/" >/dev/null || { say "registry did not start"; cat "$LAB_DIR/registry/registry.log" >&2; exit 1; }
  # One Docker engine per host. nsenter, not `ip netns exec` (that remounts /sys and hides the
  # cgroup v1 mounts dockerd needs).
  for h in "${HOSTS[@]}"; do
    R=/run/hl-e2e/$h
    printf '{ "registry-mirrors": ["http://%s"], "insecure-registries": ["%s"] }\n' "$REGISTRY" "$REGISTRY" >"$LAB_DIR/$h/daemon.json"
    nsenter --net="/run/netns/hl-$h" unshare --uts env PATH="$ENGINE/root/usr/bin:$ENGINE/root/usr/sbin:$PATH" \
      sh -c "hostname $h && exec $ENGINE/root/usr/sbin/dockerd \
      --config-file $LAB_DIR/$h/daemon.json --host unix://$R/docker.sock \
      --data-root $LAB_DIR/$h/docker-data --exec-root $R/exec --pidfile $R/dockerd.pid \
      --cgroup-parent /hl-e2e-$h" >"$LAB_DIR/$h/dockerd.log" 2>&1 &
  done
  for h in "${HOSTS[@]}"; do
    for _ in $(seq 1 150); do docker -H "unix://$(sock_of "$h")" version >/dev/null 2>&1 && break; sleep 0.2; done
    docker -H "unix://$(sock_of "$h")" version >/dev/null || { tail -5 "$LAB_DIR/$h/dockerd.log" >&2; exit 1; }
  done
  say "2 engines and the registry up ($(since "$T0"))"
  t=$(now)
  build_images
  say "images $RESTIC_IMAGE, $SYNCTHING_IMAGE and $HAPROXY_IMAGE built and pushed to the mirror ($(since "$t"))"
  cat >"$LAB_DIR/lab.json" <<EOC
{
  "dir": "$LAB_DIR",
  "bridgeIp": "$NET.1",
  "registry": "$REGISTRY",
  "user": "$LAB_USER",
  "hosts": { "home": "$(ip_of home)", "offsite": "$(ip_of offsite)" },
  "links": { "home": "hl-home-0", "offsite": "hl-offsite-0" },
  "netns": { "home": "hl-home", "offsite": "hl-offsite" },
  "sockets": { "home": "$(sock_of home)", "offsite": "$(sock_of offsite)" },
  "sshConfig": "$LAB_DIR/ssh/ssh_config",
  "sshBin": "$LAB_DIR/ssh/bin",
  "clientKey": "$LAB_DIR/ssh/clientkey",
  "knownHosts": "$LAB_DIR/ssh/known_hosts",
  "tls": { "ca": "$LAB_DIR/tls/ca.pem", "cert": "$LAB_DIR/tls/server.pem", "key": "$LAB_DIR/tls/server.key" },
  "images": { "restic": "$RESTIC_IMAGE", "syncthing": "$SYNCTHING_IMAGE" },
  "bin": { "restic": "$LAB_CACHE/apt/root/usr/bin/restic" }
}
EOC
  say "up in $(since "$T0")"
}

down() {
  local T0 h R p
  T0=$(now)
  # Best effort: every step runs even when an earlier one finds nothing to remove.
  set +e
  for h in "${HOSTS[@]}"; do
    R=/run/hl-e2e/$h
    if [[ -S $R/docker.sock ]]; then
      # shellcheck disable=SC2046
      docker -H "unix://$R/docker.sock" rm -f $(docker -H "unix://$R/docker.sock" ps -aq) >/dev/null 2>&1 || true
    fi
    if [[ -f $R/dockerd.pid ]]; then
      p=$(cat "$R/dockerd.pid")
      kill "$p" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null || true
    fi
    if [[ -f $LAB_DIR/$h/sshd.pid ]]; then kill "$(cat "$LAB_DIR/$h/sshd.pid")" 2>/dev/null || true; fi
    # Leftover mounts of a killed engine would keep its data root busy.
    grep -o " $LAB_DIR/$h/docker-data[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    grep -o " ${R}[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    ip netns del "hl-$h" 2>/dev/null || true
    ip link del "hl-$h-0" 2>/dev/null || true
    rm -rf "$R"
  done
  if [[ -f $LAB_DIR/registry/registry.pid ]]; then kill "$(cat "$LAB_DIR/registry/registry.pid")" 2>/dev/null || true; fi
  while iptables -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null; do :; done
  while iptables -D INPUT -i "$BR" -j ACCEPT 2>/dev/null; do :; done
  ip link del "$BR" 2>/dev/null || true
  rmdir /run/hl-e2e 2>/dev/null || true
  if id "$LAB_USER" >/dev/null 2>&1; then userdel "$LAB_USER" 2>/dev/null || true; fi
  rm -rf "$LAB_DIR"
  say "down in $(since "$T0")"
  set -e
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
