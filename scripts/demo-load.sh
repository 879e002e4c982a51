#!/usr/bin/env bash
# The demo's live write load on the source at 127.0.0.1:PORT: new orders, status changes,
# e-mail changes and deletions, about 80 statements a second, until killed.
set -euo pipefail
port=${1:?usage: demo-load.sh PORT}
i=1000000
while true; do
  i=$((i + 1))
  echo "INSERT INTO shop.orders VALUES ($i, 1 + $i % 50000, 'new', ($i % 977) / 10, NOW(6), 'live order');"
  echo "UPDATE shop.orders SET status = 'paid' WHERE id = $((i % 150000 + 1));"
  echo "UPDATE shop.customers SET email = CONCAT('changed', $i, '@example.com') WHERE id = $((i % 50000 + 1));"
  if [ $((i % 10)) -eq 0 ]; then echo "DELETE FROM shop.order_lines WHERE order_id = $((i % 130000 + 1));"; fi
  sleep 0.05
done | mariadb --no-defaults -h127.0.0.1 -P"$port" -uferry -pferry-pass
