#!/usr/bin/env bash
# `make bench`: Ferry against the tools a user would otherwise use, on this machine, in one run.
#
# Workload (fixed; sizes overridable for a quick look, but docs/benchmarks.md is written only
# for the documented sizes unless BENCH_WRITE_DOCS=1):
#   full sync    sysbench `oltp_*` tables: BENCH_TABLES (4) x BENCH_TABLE_SIZE (250,000) rows
#   incremental  `sysbench oltp_write_only` with BENCH_EVENTS (125,000) events, each one UPDATE of
#                an indexed column, one UPDATE of a non-indexed column, one DELETE and one INSERT
#                -> 4 row events per source transaction, 500,000 row events in all, generated
#                before anything drains them
# Contenders (MariaDB -> MariaDB, every server started the same way by scripts/mariadb.sh):
#   full:        ferry (release build, defaults: 4 snapshot readers, 4 apply lanes, 2,000-row
#                chunks) | mariadb-dump --single-transaction | mariadb | mydumper -t 4 then
#                myloader -t 4 --enable-binlog (every contender's writes reach the destination's
#                binlog, as a replica's and Ferry's do; myloader skips it by default)
#   incremental: ferry from its full-sync checkpoint | a native replica draining the same binlog
#                (START SLAVE UNTIL) with slave_parallel_threads 0 and 4
# Measured: wall time, rows (events) per second, CPU seconds and peak RSS of the tool's own
# processes (GNU time), and CPU seconds of the MariaDB servers involved (/proc). Every
# destination is checked equal to the source (CHECKSUM TABLE) before a figure is reported.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tables=${BENCH_TABLES:-4}
table_size=${BENCH_TABLE_SIZE:-250000}
events=${BENCH_EVENTS:-125000}
threads=4
work=${BENCH_DIR:-$root/.bench}
base_port=${BENCH_PORT:-24500}
out=${BENCH_OUT:-$root/docs/benchmarks.md}
documented=0
[ "$tables" = 4 ] && [ "$table_size" = 250000 ] && [ "$events" = 125000 ] && documented=1
[ "${BENCH_WRITE_DOCS:-0}" = 1 ] && documented=1

scripts/install-bench-deps.sh
echo "== building ferry (release)"
cargo build --release --quiet
ferry=$root/target/release/ferry

# Servers: source, ferry's destination, and the two references (later replicas).
S=$((base_port + 1)); D=$((base_port + 2)); R0=$((base_port + 3)); R4=$((base_port + 4))
stop_all() { for p in $S $D $R0 $R4; do scripts/mariadb.sh stop "$work/db$p" >/dev/null 2>&1 || true; done; }
trap stop_all EXIT
stop_all
rm -rf "$work"
mkdir -p "$work"
id=1
for p in $S $D $R0 $R4; do scripts/mariadb.sh start "$work/db$p" "$p" "$id"; id=$((id + 1)); done

sql() { local port=$1; shift; mariadb --no-defaults -h127.0.0.1 -P"$port" -uferry -pferry-pass -N -B -e "$*"; }
server_cpu() { # CPU seconds (user+system) of the servers on the given ports
  local total=0 tck; tck=$(getconf CLK_TCK)
  for p in "$@"; do
    local pid; pid=$(cat "$work/db$p/mysqld.pid")
    total=$(awk -v t="$total" -v tck="$tck" '{print t + ($14 + $15) / tck}' "/proc/$pid/stat")
  done
  echo "$total"
}
checksums() { sql "$1" "CHECKSUM TABLE $(seq -s, -f 'sbtest.sbtest%g' 1 "$tables")" | awk '{print $2}' | tr '\n' ' '; }
same_as_source() { # port, label
  local want got; want=$(checksums "$S"); got=$(checksums "$1")
  [ "$want" = "$got" ] || { echo "BENCH INVALID: $2 differs from the source ($got vs $want)" >&2; exit 1; }
}
sysbench_args=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$S" --mysql-user=ferry --mysql-password=ferry-pass
  --mysql-db=sbtest --tables="$tables" --table-size="$table_size")

echo "== preparing the source: $tables x $table_size rows"
sql "$S" "CREATE DATABASE sbtest"
sysbench oltp_read_write "${sysbench_args[@]}" --threads="$threads" prepare >"$work/prepare.log"
rows=$((tables * table_size))
for p in $D $R0 $R4; do sql "$p" "CREATE DATABASE sbtest"; done

declare -A wall cpu rss srv
measure() { # name, server ports..., -- command...
  local name=$1; shift
  local ports=()
  while [ "$1" != -- ]; do ports+=("$1"); shift; done
  shift
  local before after start end
  before=$(server_cpu "${ports[@]}")
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/$name.time" "$@"
  end=$(date +%s.%N)
  after=$(server_cpu "${ports[@]}")
  wall[$name]=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')
  read -r u s m <"$work/$name.time"
  cpu[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
  rss[$name]=$(awk -v m="$m" 'BEGIN {printf "%.0f", m / 1024}')
  srv[$name]=$(awk -v a="$before" -v b="$after" 'BEGIN {printf "%.2f", b - a}')
  echo "   $name: ${wall[$name]} s wall, ${cpu[$name]} s CPU, ${rss[$name]} MiB peak RSS, ${srv[$name]} s server CPU"
}

cat >"$work/task.yaml" <<EOF
apiVersion: ferry.dev/v1alpha1
kind: SyncTask
metadata: {name: bench}
spec:
  source: {host: 127.0.0.1, port: $S, credentialsSecret: {name: src}}
  destination: {type: mysql, host: 127.0.0.1, port: $D, credentialsSecret: {name: dst}}
  syncTypes: {full: true, incremental: SYNC_INCREMENTAL}
  objects: [{database: sbtest}]
---
apiVersion: v1
kind: Secret
metadata: {name: src}
stringData: {username: ferry, password: ferry-pass}
---
apiVersion: v1
kind: Secret
metadata: {name: dst}
stringData: {username: ferry, password: ferry-pass}
EOF
sed 's/SYNC_INCREMENTAL/false/' "$work/task.yaml" >"$work/full.yaml"
sed 's/SYNC_INCREMENTAL/true/' "$work/task.yaml" >"$work/incremental.yaml"

echo "== full sync of $rows rows"
measure ferry_full "$S" "$D" -- "$ferry" run -f "$work/full.yaml" --plain --metrics-addr off 2>"$work/ferry_full.log"
same_as_source "$D" "ferry full sync"
measure dump_full "$S" "$R0" -- bash -c "set -o pipefail; mariadb-dump --no-defaults -h127.0.0.1 -P$S -uferry -pferry-pass \
  --single-transaction --quick sbtest | mariadb --no-defaults -h127.0.0.1 -P$R0 -uferry -pferry-pass sbtest"
same_as_source "$R0" "mariadb-dump | mariadb"
measure mydumper_full "$S" "$R4" -- bash -c "mydumper -h 127.0.0.1 -P $S -u ferry -p ferry-pass -B sbtest -t $threads \
  --trx-consistency-only -o $work/dump -r 100000 >$work/mydumper.log 2>&1 && myloader -h 127.0.0.1 -P $R4 -u ferry -p ferry-pass \
  -B sbtest -t $threads -o -e -d $work/dump >$work/myloader.log 2>&1"
same_as_source "$R4" "mydumper | myloader"

echo "== generating the binlog: $events sysbench write transactions"
read -r file pos < <(sql "$S" "SHOW MASTER STATUS" | awk '{print $1, $2}')
sysbench oltp_write_only "${sysbench_args[@]}" --threads="$threads" --events="$events" --time=0 --rand-seed=42 \
  --report-interval=0 run >"$work/load.log"
row_events=$(awk '/write:/ {print $2}' "$work/load.log")
read -r end_file end_pos < <(sql "$S" "SHOW MASTER STATUS" | awk '{print $1, $2}')
echo "   $row_events row events, $file:$pos .. $end_file:$end_pos"

echo "== incremental: draining $row_events row events"
caught_up() {
  sql "$D" "SELECT JSON_VALUE(state, '$.position.file'), JSON_VALUE(state, '$.position.pos') FROM ferry.ferry_checkpoint \
    WHERE task = 'default/bench' ORDER BY epoch DESC LIMIT 1" | awk -v f="$end_file" -v p="$end_pos" '$1 > f || ($1 == f && $2 >= p) {ok = 1} END {exit !ok}'
}
ferry_incremental() {
  "$ferry" run -f "$work/incremental.yaml" --plain --metrics-addr off 2>"$work/ferry_incremental.log" &
  local pid=$!
  until caught_up; do
    kill -0 "$pid" 2>/dev/null || { echo "ferry exited early; see $work/ferry_incremental.log" >&2; return 1; }
    sleep 0.1
  done
  kill -INT "$pid"
  wait "$pid"
}
export -f ferry_incremental caught_up sql
export ferry work end_file end_pos D
measure ferry_incremental "$S" "$D" -- bash -c ferry_incremental
same_as_source "$D" "ferry incremental"
replica() { # port, parallel threads
  sql "$1" "SET GLOBAL gtid_strict_mode = 0, GLOBAL slave_parallel_threads = $2; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $S, \
    MASTER_USER = 'ferry', MASTER_PASSWORD = 'ferry-pass', MASTER_LOG_FILE = '$file', MASTER_LOG_POS = $pos, MASTER_USE_GTID = no; \
    START SLAVE UNTIL MASTER_LOG_FILE = '$end_file', MASTER_LOG_POS = $end_pos; \
    SELECT MASTER_POS_WAIT('$end_file', $end_pos, 3600)" >/dev/null
}
export -f replica
export S file pos
measure replica_0 "$S" "$R0" -- bash -c "replica $R0 0"
same_as_source "$R0" "replica (slave_parallel_threads 0)"
measure replica_4 "$S" "$R4" -- bash -c "replica $R4 4"
same_as_source "$R4" "replica (slave_parallel_threads 4)"

rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.0f", n / t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
full_rate=$(rate "$rows" "${wall[ferry_full]}")
incr_rate=$(rate "$row_events" "${wall[ferry_incremental]}")
row() { # label, name, count
  local r; r=$(rate "$3" "${wall[$2]}")
  local ref; ref=$4
  echo "| $1 | ${wall[$2]} | $r | $(ratio "$ref" "$r") | ${cpu[$2]} | ${rss[$2]} | ${srv[$2]} |"
}
mariadb_version=$(sql "$S" "SELECT VERSION()")
report=$(cat <<EOF
# Benchmarks

Generated by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d). Every figure comes from
the same run on the same machine; "ferry ×" is Ferry's rate divided by the row's rate (above 1:
Ferry is faster). Every destination was checked equal to the source (CHECKSUM TABLE) first.

Machine: $(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),
$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(. /etc/os-release && echo "$PRETTY_NAME"); MariaDB $mariadb_version
for every server (scripts/mariadb.sh: 256 MB buffer pool, binlog ROW/FULL, sync_binlog 0,
innodb_flush_log_at_trx_commit 2); $(sysbench --version); $(mydumper --version 2>&1 | head -1 | cut -d, -f1);
$("$ferry" --version). Source, destination and tool share the machine's cores.

Columns: wall seconds; rows (or row events) per second; ferry × = Ferry's rate over this row's;
CPU s and peak RSS of the tool's own processes (GNU time; for a replica, none — it runs inside
the server); server CPU s = the MariaDB servers involved (source and destination).

## Full sync: $rows rows ($tables sysbench tables of $table_size rows)

| tool | wall s | rows/s | ferry × | CPU s | peak RSS MiB | server CPU s |
|---|---|---|---|---|---|---|
$(row "ferry (4 readers, 4 lanes)" ferry_full "$rows" "$full_rate")
$(row "mariadb-dump \| mariadb" dump_full "$rows" "$full_rate")
$(row "mydumper -t 4, then myloader -t 4 -e" mydumper_full "$rows" "$full_rate")

Every contender's writes go to the destination's binlog (myloader with \`--enable-binlog\`;
by default it skips the binlog, which makes it faster and its copy invisible to replicas).

## Incremental: $row_events row events ($events sysbench oltp_write_only transactions)

The binlog is written first, then drained from the same start position by each contender.
Ferry applies each batch's net effect (a key's last write; sysbench's DELETE + INSERT of one
id in a transaction becomes one upsert) as one multi-row statement per table over its lanes;
a replica replays every row event as it was logged — that, more than raw speed, is the gap.

| tool | wall s | row events/s | ferry × | CPU s | peak RSS MiB | server CPU s |
|---|---|---|---|---|---|---|
$(row "ferry (4 lanes)" ferry_incremental "$row_events" "$incr_rate")
$(row "native replica, slave_parallel_threads 0" replica_0 "$row_events" "$incr_rate")
$(row "native replica, slave_parallel_threads 4" replica_4 "$row_events" "$incr_rate")

Reproduce: \`make bench\` (about 5 minutes here). Smaller sizes for a quick look:
\`BENCH_TABLE_SIZE=20000 BENCH_EVENTS=10000 make bench\` (prints, does not rewrite this file).
EOF
)
echo
echo "$report"
if [ "$documented" = 1 ]; then
  echo "$report" >"$out"
  echo "written to $out"
fi
