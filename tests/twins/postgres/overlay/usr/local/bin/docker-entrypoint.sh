#!/bin/sh
# Stand-in for docker-library/postgres docker-entrypoint.sh (commit 6edb0a8c, read 2026-12-05), the
# parts a service's template relies on. PGDATA is /var/lib/postgresql/data (the image's ENV and
# VOLUME for majors up to 17).
set -eu
# Debian's package made a cluster of its own while the image was built, on whatever port was free on
# the build machine; Debian's psql and pg_dump would go there. Without it they reach this server on the
# default socket and port, as the official image's do.
rm -rf /etc/postgresql/*/main
PGDATA=/var/lib/postgresql/data
export PGDATA
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

# docker_setup_env: POSTGRES_USER defaults to postgres, POSTGRES_DB to the user; a data folder with
# PG_VERSION is an existing database and is never initialized again.
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # docker_verify_minimum_env: no password and no trust method is refused.
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        exit 1
    fi
    # docker_init_database_dir: initdb with POSTGRES_USER as the superuser and POSTGRES_PASSWORD.
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    chown postgres "$pwfile"
    su postgres -s /bin/sh -c "'$bin/initdb' -D '$PGDATA' --username='$POSTGRES_USER' --pwfile='$pwfile'" >/dev/null
    rm -f "$pwfile"
    # pg_setup_hba_conf: every host may connect with the password method (scram-sha-256); sockets
    # inside the container stay trusted, as initdb sets them.
    printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    # docker_setup_db: POSTGRES_DB is created unless it is "postgres".
    su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PGDATA' -o \"-c listen_addresses=''\" -w start" >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
        su postgres -s /bin/sh -c "'$bin/psql' -v ON_ERROR_STOP=1 --username='$POSTGRES_USER' --dbname=postgres -c 'CREATE DATABASE \"$POSTGRES_DB\"'" >/dev/null
    fi
    su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PGDATA' -m fast -w stop" >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
else
    echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
fi

# The image's command as the postgres user, listening on every address of the container (the
# Dockerfile sets listen_addresses = '*' in postgresql.conf.sample).
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
