#!/usr/bin/env bash
# `make demo`: two local MariaDB servers, sample data, a live write load, and
# `ferry run -f examples/demo.yaml` showing the full sync and then the incremental sync.
#   DEMO_SECONDS=N   stop by itself after N seconds (default: run until Ctrl-C)
#   scripts/demo.sh stop   stop the servers and remove .demo/
set -euo pipefail
cd "$(dirname "$0")/.."
state=.demo
src_port=23306
dst_port=23307
client() { mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P"$1" -uferry -pferry-pass "${@:2}"; }

if [ "${1:-}" = "stop" ]; then
  [ -f "$state/load.pid" ] && kill -- -"$(cat "$state/load.pid")" 2>/dev/null || true
  scripts/mariadb.sh stop "$state/source" || true
  scripts/mariadb.sh stop "$state/destination" || true
  rm -rf "$state"
  echo "demo stopped and removed"
  exit 0
fi

scripts/install-test-deps.sh
cargo build --release --quiet
mkdir -p "$state"
scripts/mariadb.sh start "$state/source" $src_port 1
scripts/mariadb.sh start "$state/destination" $dst_port 2
if [ "$(client $src_port -N -e "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'")" = "0" ]; then
  echo "loading sample data (~400k rows)…"
  client $src_port < examples/demo-data.sql
fi

# A live write load (its own process group, so stopping it stops the whole pipeline).
stop_load() { [ -f "$state/load.pid" ] && kill -- -"$(cat "$state/load.pid")" 2>/dev/null; rm -f "$state/load.pid"; }
stop_load
setsid scripts/demo-load.sh $src_port &
echo $! > "$state/load.pid"

cat <<MSG

  Source      mariadb -h127.0.0.1 -P$src_port -uferry -pferry-pass shop
  Destination mariadb -h127.0.0.1 -P$dst_port -uferry -pferry-pass shop_copy
  Metrics     curl -s localhost:9187/metrics | grep ^ferry_
  Compare     SELECT COUNT(*), MAX(id) FROM orders;   (on both sides)
  Checkpoint  SELECT * FROM ferry.ferry_checkpoint;    (on the destination)

  Ctrl-C stops Ferry cleanly (checkpoint saved); run it again to resume.
  'make demo-stop' stops the servers and removes .demo/.

MSG
set +e
if [ -n "${DEMO_SECONDS:-}" ]; then
  target/release/ferry run -f examples/demo.yaml &
  ferry=$!
  sleep "$DEMO_SECONDS"
  stop_load
  echo "write load stopped; letting Ferry catch up…" >&2
  sleep 5
  kill -INT $ferry
  wait $ferry
  status=$?
else
  trap stop_load INT
  target/release/ferry run -f examples/demo.yaml
  status=$?
fi
stop_load
echo
echo "orders on the source:      $(client $src_port -N -e 'SELECT COUNT(*), MAX(id), SUM(status = "paid") FROM shop.orders')  (count, max id, paid)"
echo "orders on the destination: $(client $dst_port -N -e 'SELECT COUNT(*), MAX(id), SUM(status = "paid") FROM shop_copy.orders')"
echo "Run 'make demo' again to resume from the checkpoint; 'make demo-stop' to clean up."
exit $((status == 130 ? 0 : status))
