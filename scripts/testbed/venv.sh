#!/usr/bin/env bash
# Makes .venv with the pinned test tools (requirements/test.txt), for scripts/test in a fresh clone.
# Downloading and unpacking the ~180 pinned wheels takes minutes, and gives the same files each time;
# so the first environment made on this machine for one set of pins (and one Python) is kept, and a
# fresh clone gets a copy of it (hard links, seconds) with the paths in its scripts made its own. A
# machine without that copy makes the environment as before, and keeps it.
# Usage: bash scripts/testbed/venv.sh (in the clone; does nothing where .venv exists).
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=/var/cache/provisioner-testbed/venvs
venv=$PWD/.venv
[ -x "$venv/bin/python" ] && exit 0

pins() {
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r requirements/test.txt
}

# Only root writes the machine's cache (as the test bed's install does); anyone else just installs.
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
  pins
  exit 0
fi

key=$( (cat requirements/test.txt; python3 -VV) | sha256sum | cut -c1-16)
kept=$CACHE/$key

# A copy made while another run was storing the same environment must not see half of it: an
# environment is stored under a temporary name and renamed, and its origin written last of all.
if [ ! -f "$kept/origin" ]; then
  pins
  tmp=$(mktemp -d "$CACHE/.new-$key-XXXXXX")
  cp -al "$venv/." "$tmp/"
  echo "$venv" >"$tmp/origin"
  mv -T "$tmp" "$kept" 2>/dev/null || rm -rf "$tmp"  # another run stored it first: keep theirs
  # Older pins' environments go, but the one before (a branch may still be on it).
  ls -1t "$CACHE" | tail -n +3 | while read -r old; do rm -rf "${CACHE:?}/$old"; done
  exit 0
fi

rm -rf "$venv"
# Hard links: pip and Python replace files rather than write into them, so the clone's changes (its
# own editable install, new byte code) never reach the kept copy.
cp -al "$kept/." "$venv/"
rm "$venv/origin"
origin=$(cat "$kept/origin")
# The scripts in bin/ name the interpreter (and activate the folder) by the path they were made at;
# pyvenv.cfg names the command that made it.
grep -rlIF --exclude-dir=__pycache__ "$origin" "$venv/bin" "$venv/pyvenv.cfg" | while read -r script; do
  sed -i "s|$origin|$venv|g" "$script"
done
"$venv/bin/python" -c "import sys; assert sys.prefix == '$venv', sys.prefix"
