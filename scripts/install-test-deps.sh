#!/usr/bin/env bash
# Installs what Ferry's tests and demo need on Debian 12: MariaDB server and client, openssl
# (TLS certificates of test servers).
# Idempotent: does nothing when everything is present.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

apt_install "${need[@]}"
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
