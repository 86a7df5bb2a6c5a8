#!/bin/sh
# hedgedoc/container resources/docker-entrypoint.sh (commit 81748a94, read 2026-12-05), rule by rule.
set -eu
cd /hedgedoc
# Started as root, the service runs as the hedgedoc user (debian/Dockerfile: UID/GID 10000) via gosu.
GOSU=""
[ "$(id -u)" -eq 0 ] && GOSU="gosu 10000:10000"

# The old HMD_ name still counts when the CMD_ one is not set.
if [ -n "${HMD_IMAGE_UPLOAD_TYPE:-}" ] && [ -z "${CMD_IMAGE_UPLOAD_TYPE:-}" ]; then
    CMD_IMAGE_UPLOAD_TYPE=$HMD_IMAGE_UPLOAD_TYPE
fi
upload_type=${CMD_IMAGE_UPLOAD_TYPE:-}

# Only an explicit "filesystem" makes the entrypoint look after the uploads folder: a warning when it
# is not a mount point, and (as root) owner hedgedoc, mode UPLOADS_MODE (Dockerfile: 0700), no
# executable files. HedgeDoc's own default is filesystem too, but then nothing is fixed here.
if [ "$upload_type" = filesystem ]; then
    mountpoint -q ./public/uploads || echo "WARNING: local uploads without a volume are lost with the container" >&2
    if [ "$(id -u)" -eq 0 ]; then
        echo "Updating uploads directory permissions (${UPLOADS_MODE:-0700})"
        chown -R 10000 ./public/uploads
        chmod "${UPLOADS_MODE:-0700}" ./public/uploads
        find ./public/uploads -type f -perm /111 -exec chmod a-x {} +
    fi
fi

# Upstream sleeps before starting; kept, so the first answer comes as late as upstream's does.
sleep 3
# shellcheck disable=SC2086
exec $GOSU "$@"
