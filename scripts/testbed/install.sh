#!/usr/bin/env bash
# Installs the Debian packages the test bed runs on. Safe to run again: apt is only
# touched when something is missing, so a prepared machine pays nothing.
set -euo pipefail

packages=(
  postgresql
  redis-server
  docker.io
  openssh-server
  openssh-client
  docker-registry
  # Validates docker-compose.yml; Debian 12 has only Compose v1, which reads it well enough.
  docker-compose
  restic
  # Serves restic's REST protocol for the REST backup targets' tests, as a lab runs it (docs/backups.md).
  rclone
  # Opens the repositories' password copies with the lab's recovery identity (docs/backups.md).
  age
  debootstrap
  # debootstrap verifies the archive with it; recommends are not installed.
  debian-archive-keyring
  # Ansible's community.docker modules run with the target's /usr/bin/python3.
  python3-requests
  python3-venv
  curl
  ca-certificates
  # Launcher templates (Discourse) clone their launcher on the server; the test makes a stand-in repo.
  git
  # The portal's browser tests drive it through Playwright (whose own browser download is not used).
  chromium
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if (( ${#missing[@]} == 0 )); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: root is needed to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# needrestart would otherwise ask about services this script never started.
export NEEDRESTART_SUSPEND=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "install.sh: installing ${missing[*]}"
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install.sh: apt-get failed" >&2
  exit 1
fi
