#!/usr/bin/env bash
# Private MariaDB servers for tests and the demo, configured the way Ferry needs a source:
# binlog ROW / FULL image / FULL metadata, GTID strict mode. No root, no system service.
#
#   scripts/mariadb.sh start DIR PORT SERVER_ID   start a server with its data in DIR (created if new)
#   scripts/mariadb.sh stop DIR                   stop it
#
# The server listens on 127.0.0.1:PORT and DIR/mysqld.sock. Account: ferry / ferry-pass (all privileges).
# With MARIADB_TLS=1 the server takes TLS 1.2 connections only (as Lindorm does) and refuses
# plaintext over TCP; its self-signed certificate is made with openssl in DIR/tls.
set -euo pipefail

cmd=${1:?usage: mariadb.sh start DIR PORT SERVER_ID | stop DIR}
dir=${2:?DIR missing}

find_bin() { for b in "$@"; do command -v "$b" 2>/dev/null && return 0; [ -x "/usr/sbin/$b" ] && { echo "/usr/sbin/$b"; return 0; }; done; return 1; }

case "$cmd" in
start)
  port=${3:?PORT missing}
  server_id=${4:?SERVER_ID missing}
  mariadbd=$(find_bin mariadbd mysqld) || { echo "mariadbd not found: run scripts/install-test-deps.sh" >&2; exit 1; }
  client=$(find_bin mariadb mysql) || { echo "mariadb client not found: run scripts/install-test-deps.sh" >&2; exit 1; }
  mkdir -p "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  if [ ! -d "$dir/data/mysql" ]; then
    # A private tmpdir: bootstraps running side by side otherwise clash on temp-table names.
    mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { cat "$dir/install.log" >&2; exit 1; }
  fi
  tls_args=()
  if [ "${MARIADB_TLS:-0}" = 1 ]; then
    if [ ! -f "$dir/tls/server.pem" ]; then
      mkdir -p "$dir/tls"
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
        -keyout "$dir/tls/server.key" -out "$dir/tls/server.pem" >"$dir/tls/openssl.log" 2>&1 \
        || { cat "$dir/tls/openssl.log" >&2; exit 1; }
    fi
    tls_args=(--ssl-cert="$dir/tls/server.pem" --ssl-key="$dir/tls/server.key" --tls-version=TLSv1.2 --require-secure-transport=ON)
  fi
  "$mariadbd" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --user="$(id -un)" \
    --port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
    --log-error="$dir/error.log" --skip-name-resolve \
    --server-id="$server_id" --log-bin="$dir/data/binlog" --binlog-format=ROW --binlog-row-image=FULL \
    --binlog-row-metadata=FULL --gtid-strict-mode=1 --gtid-domain-id=0 --log-slave-updates=1 \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=256M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
    --max-allowed-packet=256M --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --max-connections=500 "${tls_args[@]}" ${MARIADB_EXTRA_ARGS:-} >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    if "$client" --no-defaults --socket="$dir/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1; then
      "$client" --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
        "CREATE USER IF NOT EXISTS 'ferry'@'%' IDENTIFIED BY 'ferry-pass'; GRANT ALL ON *.* TO 'ferry'@'%' WITH GRANT OPTION;"
      exit 0
    fi
    sleep 0.1
  done
  echo "MariaDB in $dir did not start within 30s; its log:" >&2
  tail -30 "$dir/error.log" >&2 || true
  exit 1
  ;;
stop)
  [ -f "$dir/mysqld.pid" ] || exit 0
  pid=$(cat "$dir/mysqld.pid")
  kill "$pid" 2>/dev/null || exit 0
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*)
  echo "usage: mariadb.sh start DIR PORT SERVER_ID | stop DIR" >&2; exit 2 ;;
esac
