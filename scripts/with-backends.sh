#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL and Redis on loopback, then stops them and deletes
# their data:   bash scripts/with-backends.sh npx vitest run
# The command sees DATABASE_URL (a superuser of that cluster, which the tests use to make one
# database per test server) and REDIS_URL. Uses Debian's postgresql and redis-server packages,
# installing them first when missing and allowed (root, or sudo without a password); otherwise
# it says what to install.
# PostgreSQL runs with fsync off (the data is deleted at the end, and no test kills PostgreSQL);
# WITH_BACKENDS_FSYNC=on keeps it on, for benchmarks that should pay for durable commits.
set -euo pipefail

need=()
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -x "${pg_bin}/initdb" ]] || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if ((${#need[@]} > 0)); then
  as_root=()
  [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
  if command -v apt-get >/dev/null 2>&1 && "${as_root[@]}" true 2>/dev/null; then
    echo "with-backends: installing ${need[*]} (Debian packages)" >&2
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  else
    echo "with-backends: missing ${need[*]}; install with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/securechat-backends-XXXXXX")"
chmod 755 "$root"
# PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user.
as_db_user=()
if [[ $(id -u) -eq 0 ]]; then
  as_db_user=(runuser -u postgres --)
  chown postgres "$root"
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
pg_port="$(free_port)"
redis_port="$(free_port)"

stop() {
  local rc=$?
  "${as_db_user[@]}" "${pg_bin}/pg_ctl" -D "$root/pg" -m immediate stop >/dev/null 2>&1 || true
  if [[ -f "$root/redis.pid" ]]; then kill "$(cat "$root/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$root"
  exit "$rc"
}
trap stop EXIT INT TERM

"${as_db_user[@]}" "${pg_bin}/initdb" -D "$root/pg" -U securechat --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
"${as_db_user[@]}" "${pg_bin}/pg_ctl" -D "$root/pg" -l "$root/pg.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p ${pg_port} -k $root -c fsync=${WITH_BACKENDS_FSYNC:-off} -c max_connections=300" start >/dev/null
mkdir -p "$root/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$root/redis" --save '' --appendonly no \
  --daemonize yes --pidfile "$root/redis.pid" --logfile "$root/redis.log"
for _ in $(seq 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

export DATABASE_URL="postgres://securechat@127.0.0.1:${pg_port}/postgres"
export REDIS_URL="redis://127.0.0.1:${redis_port}"
echo "with-backends: PostgreSQL $("${pg_bin}/postgres" --version | awk '{print $3}') on ${pg_port}, Redis $(redis-server --version | awk '{print $3}' | tr -d v=) on ${redis_port}" >&2
"$@"
