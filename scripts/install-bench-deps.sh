#!/usr/bin/env bash
# Installs what `make bench` needs on Debian 12 on top of the test dependencies: sysbench (the
# workload), mydumper/myloader (a reference), GNU time (CPU seconds and peak RSS).
# Idempotent: does nothing when everything is present.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

"$(dirname "$0")/install-test-deps.sh"
need=()
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
command -v mydumper >/dev/null 2>&1 || need+=(mydumper)
command -v myloader >/dev/null 2>&1 || need+=(mydumper)
command -v mariadb-dump >/dev/null 2>&1 || need+=(mariadb-client)
[ -x /usr/bin/time ] || need+=(time)
apt_install "${need[@]}"
