#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests, as a non-root user, on 127.0.0.1 and a
# private socket directory; print the shell lines that export its URL and how to stop it.
#
#   eval "$(bash .ci/postgres.sh start)"     # sets PWM_TEST_PG_URL and PWM_TEST_PG_DIR
#   bash .ci/postgres.sh stop "$PWM_TEST_PG_DIR"
#
# Installs Debian's `postgresql` package when no server binaries are found. Everything it
# creates lives under one temporary directory owned by the `pwm-pg` system user.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

start() {
  local bin port dir user
  if ! bin=$(find_bin); then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    bin=$(find_bin)
  fi
  user=pwm-pg
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  dir=$(mktemp -d /tmp/pwm-pg.XXXXXX)
  chown "$user" "$dir"
  chmod 700 "$dir"
  # runuser, not su: no login shell, and the arguments are passed as they are.
  runuser -u "$user" -- "$bin/initdb" -D "$dir/data" -U pwm --auth=trust -E UTF8 --no-locale >/dev/null
  # The first free port from 55432 (another server may hold one).
  for port in $(seq "${PWM_TEST_PG_PORT:-55432}" "$(( ${PWM_TEST_PG_PORT:-55432} + 20 ))"); do
    if runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" >/dev/null 2>&1; then
      break
    fi
    port=""
  done
  if [ -z "$port" ]; then
    cat "$dir/log" >&2
    echo "postgres.sh: could not start PostgreSQL on any port from ${PWM_TEST_PG_PORT:-55432}" >&2
    return 1
  fi
  runuser -u "$user" -- "$bin/createdb" -h "$dir" -p "$port" -U pwm pwm_test
  echo "export PWM_TEST_PG_URL=postgresql://pwm@127.0.0.1:$port/pwm_test"
  echo "export PWM_TEST_PG_DIR=$dir"
}

stop() {
  local bin dir=$1
  bin=$(find_bin) || return 0
  [ -d "$dir/data" ] && runuser -u pwm-pg -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:?the directory printed by start}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
