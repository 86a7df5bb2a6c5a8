#!/usr/bin/env bash
# Starts the services the tests run against, each on loopback only. Safe to run again:
# a service that already answers is left alone.
set -euo pipefail

LOG_DIR=/var/log/provisioner-testbed
STATE_DIR=/var/lib/provisioner-testbed
PG_VERSION=15
PG_CLUSTER=main

mkdir -p "$LOG_DIR" "$STATE_DIR"

# wait_for NAME SECONDS LOGFILE COMMAND...: polls COMMAND until it succeeds; on timeout
# shows the service's log so the cause is visible in CI output.
wait_for() {
  local name=$1 seconds=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      echo "start.sh: $name did not answer within ${seconds}s; last lines of $logfile:" >&2
      tail -n 40 "$logfile" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

# Detached from this shell so the service outlives the script.
spawn() {
  local logfile=$1
  shift
  setsid -f "$@" >>"$logfile" 2>&1 </dev/null
}

start_postgres() {
  local logfile=/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log
  # The package creates this cluster on install, unless the machine's policy said not to.
  if [[ ! -d /etc/postgresql/$PG_VERSION/$PG_CLUSTER ]]; then
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start || { tail -n 40 "$logfile" >&2; exit 1; }
  fi
  wait_for PostgreSQL 60 "$logfile" pg_isready -q -h 127.0.0.1 -p 5432

  # Runs as the postgres OS user through the local socket, the only superuser path.
  runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provisioner') THEN
    CREATE ROLE provisioner LOGIN CREATEDB PASSWORD 'provisioner';
  ELSE
    ALTER ROLE provisioner LOGIN CREATEDB PASSWORD 'provisioner';
  END IF;
END
$$;
SQL
  wait_for "PostgreSQL login as provisioner" 10 "$logfile" \
    env PGPASSWORD=provisioner psql -h 127.0.0.1 -p 5432 -U provisioner -d postgres -tAc 'SELECT 1'
}

redis_answers() {
  [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]
}

start_redis() {
  local logfile=$LOG_DIR/redis.log
  if ! redis_answers; then
    (cd / && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --logfile "$logfile")
  fi
  wait_for Redis 30 "$logfile" redis_answers
}

docker_answers() {
  curl -fsS --max-time 5 --unix-socket /var/run/docker.sock http://localhost/_ping
}

start_docker() {
  local logfile=$LOG_DIR/dockerd.log
  if ! docker_answers >/dev/null 2>&1; then
    spawn "$logfile" dockerd
  fi
  wait_for "Docker Engine" 90 "$logfile" docker_answers
}

registry_answers() {
  curl -fsS --max-time 5 http://127.0.0.1:5000/v2/
}

start_registry() {
  local logfile=$LOG_DIR/registry.log
  local config=$STATE_DIR/registry.yml
  mkdir -p "$STATE_DIR/registry"
  # Debian's default config listens on every address and asks for htpasswd;
  # the test bed wants loopback only, no auth, and deletable test images.
  cat >"$config" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  if ! registry_answers >/dev/null 2>&1; then
    spawn "$logfile" docker-registry serve "$config"
  fi
  wait_for "image registry" 30 "$logfile" registry_answers
}

start_postgres
start_redis
start_docker
start_registry
echo "start.sh: PostgreSQL, Redis, Docker Engine and the image registry on 127.0.0.1:5000 are up"
