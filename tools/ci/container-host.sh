#!/usr/bin/env bash
# A container host for the compute-job tests: Podman's Docker-compatible API service on a unix
# socket, rootful, with the runc runtime, and a busybox image imported from a local tarball (no
# registry is reachable). Idempotent: installed packages, the image and an answering service are
# left as they are. Needs root and Debian's apt.
#
#   . tools/ci/container-host.sh     exports ECD_CONTAINER_HOST and ECD_TEST_IMAGE (as .ci/run does)
#   tools/ci/container-host.sh       the same values go to /run/ecd-podman/env, which the tests read
#
# Packages: podman (pulls conmon, the CNI plugins and iptables), runc (podman depends on crun or
# runc; crun fails here with "cgroups in hybrid mode not supported", so runc is installed and
# named), busybox-static (the image's only binary), curl (to ask the socket for /_ping). Podman
# runs rootful on the kernel's overlayfs and jobs get NetworkMode none, so netavark,
# slirp4netns, uidmap and fuse-overlayfs are not needed.

ecd_container_host_setup() (
  set -euo pipefail
  trap 'echo "container-host: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
  local dir=/run/ecd-podman
  local sock=$dir/podman.sock
  local ref=localhost/ecd-busybox:test
  local pkgs=(podman runc busybox-static curl)

  if [ "$(id -u)" != 0 ]; then
    echo "container-host: needs root (a rootful Podman service on $sock)" >&2
    return 1
  fi

  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "container-host: installing ${missing[*]}" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi

  # The image: /bin/busybox with every applet as a symlink, root and nobody in /etc/passwd.
  if ! podman image exists "$ref"; then
    local root tarball a
    root=$(mktemp -d)
    tarball=$(mktemp --suffix=.tar)
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for a in $(/bin/busybox --list); do
      [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" --numeric-owner --owner=0 --group=0 --sort=name -cf "$tarball" .
    podman import --quiet --change 'CMD ["/bin/sh"]' "$tarball" "$ref" >/dev/null
    rm -rf "$root" "$tarball"
  fi
  local image
  image=$(podman image inspect --format '{{.Id}}' "$ref")
  case "$image" in sha256:*) ;; *) image="sha256:$image" ;; esac

  # The service: started unless the socket already answers.
  mkdir -p "$dir"
  if ! curl -fsS -m 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    # From its own directory: on an OOM kill, conmon creates an empty file `oom` in the working
    # directory it inherits, which must not land in a checkout.
    cd "$dir"
    setsid podman --runtime runc system service --time 0 "unix://$sock" </dev/null >>"$dir/service.log" 2>&1 &
    echo $! >"$dir/service.pid"
    local i
    for i in $(seq 1 100); do
      curl -fsS -m 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
      if [ "$i" = 100 ]; then
        echo "container-host: the Podman service did not answer on $sock; its log:" >&2
        tail -n 20 "$dir/service.log" >&2
        return 1
      fi
      sleep 0.2
    done
  fi

  printf 'ECD_CONTAINER_HOST=unix://%s\nECD_TEST_IMAGE=%s\n' "$sock" "$image" >"$dir/env"
  echo "container host: unix://$sock ($(podman --version), runc)" >&2
  echo "test image: $ref $image" >&2
)

# A plain command, not an `if` condition: bash ignores `set -e` inside a condition's subshell.
ecd_container_host_setup
ecd_container_host_rc=$?
if [ "$ecd_container_host_rc" = 0 ]; then
  unset ecd_container_host_rc
  ECD_CONTAINER_HOST=$(sed -n 's/^ECD_CONTAINER_HOST=//p' /run/ecd-podman/env)
  ECD_TEST_IMAGE=$(sed -n 's/^ECD_TEST_IMAGE=//p' /run/ecd-podman/env)
  export ECD_CONTAINER_HOST ECD_TEST_IMAGE
else
  # `return` when sourced, `exit` when run. (Sourced under `set -e`, the shell has already exited.)
  return "$ecd_container_host_rc" 2>/dev/null || exit "$ecd_container_host_rc"
fi
