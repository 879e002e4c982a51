#!/usr/bin/env bash
# Full sync of two ferry builds, alternating on the same servers and the same data, so that
# machine noise (which moves single `make bench` runs by 10-20% here) hits both alike:
#   scripts/bench-compare.sh <old ferry binary> [<new ferry binary>]
# ROUNDS (5) runs of each; SIZE (250,000) rows in each of 4 sysbench tables. Prints each run's
# wall seconds and the means. An older build: `git worktree add /tmp/old <commit>` and
# `CARGO_TARGET_DIR=/tmp/old-target cargo build --release` there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
old=${1:?usage: scripts/bench-compare.sh <old ferry binary> [<new ferry binary>]}
new=${2:-$root/target/release/ferry}
[ -n "${2:-}" ] || cargo build --release --quiet
scripts/install-bench-deps.sh
work=${BENCH_DIR:-$root/.bench-compare}; S=$((${BENCH_PORT:-24600} + 1)); D=$((${BENCH_PORT:-24600} + 2))
stop_all() { for p in $S $D; do scripts/mariadb.sh stop "$work/db$p" >/dev/null 2>&1 || true; done; }
trap stop_all EXIT
stop_all; rm -rf $work; mkdir -p $work
scripts/mariadb.sh start $work/db$S $S 1; scripts/mariadb.sh start $work/db$D $D 2
sql() { local port=$1; shift; mariadb --no-defaults -h127.0.0.1 -P"$port" -uferry -pferry-pass -N -B -e "$*"; }
sql $S "CREATE DATABASE sbtest"
sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$S --mysql-user=ferry --mysql-password=ferry-pass \
  --mysql-db=sbtest --tables=4 --table-size=${SIZE:-250000} --threads=2 prepare > $work/prepare.log
cat >"$work/full.yaml" <<EOT
apiVersion: ferry.dev/v1alpha1
kind: SyncTask
metadata: {name: bench}
spec:
  source: {host: 127.0.0.1, port: $S, credentialsSecret: {name: src}}
  destination: {type: mysql, host: 127.0.0.1, port: $D, credentialsSecret: {name: dst}}
  syncTypes: {full: true, incremental: false}
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
EOT
for round in $(seq ${ROUNDS:-5}); do
  for name in old new; do
    bin=$old; [ $name = new ] && bin=$new
    sql $D "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS ferry; RESET MASTER"
    start=$(date +%s.%N)
    $bin run -f $work/full.yaml --plain --metrics-addr off 2>$work/$name.log
    end=$(date +%s.%N)
    echo "$round $name $(awk -v a=$start -v b=$end 'BEGIN {printf "%.2f", b - a}')" | tee -a $work/times
  done
done
awk '{s[$2] += $3; n[$2]++} END {printf "mean wall s: old %.2f, new %.2f (new/old %.3f)\n", s["old"]/n["old"], s["new"]/n["new"], (s["new"]/n["new"])/(s["old"]/n["old"])}' $work/times
