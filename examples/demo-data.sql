-- Sample data for `make demo`: a small shop, ~400k rows, generated on the server.
CREATE DATABASE IF NOT EXISTS shop;
USE shop;
CREATE TABLE customers (
  id INT UNSIGNED PRIMARY KEY,
  email VARCHAR(120) NOT NULL,
  name VARCHAR(100) NOT NULL,
  country CHAR(2) NOT NULL,
  created_at DATETIME(6) NOT NULL
);
CREATE TABLE products (
  sku VARCHAR(32) PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  attributes JSON
);
CREATE TABLE orders (
  id BIGINT UNSIGNED PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL,
  total DECIMAL(14,2) NOT NULL,
  placed_at TIMESTAMP(6) NOT NULL,
  note TEXT
);
CREATE TABLE order_lines (
  order_id BIGINT UNSIGNED NOT NULL,
  line SMALLINT UNSIGNED NOT NULL,
  sku VARCHAR(32) NOT NULL,
  qty INT NOT NULL,
  PRIMARY KEY (order_id, line)
);
INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('Customer ', seq), ELT(1 + seq % 5, 'DE', 'CN', 'US', 'FR', 'BR'),
  TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_50000;
INSERT INTO products SELECT CONCAT('SKU-', LPAD(seq, 6, '0')), CONCAT('Product ', seq, ' — ☕'), 1 + (seq % 500) + 0.99,
  JSON_OBJECT('color', ELT(1 + seq % 3, 'red', 'green', 'blue'), 'weight', seq % 40) FROM seq_1_to_10000;
INSERT INTO orders SELECT seq, 1 + seq % 50000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled'), (seq % 100000) / 100,
  FROM_UNIXTIME(1700000000 + seq * 17), IF(seq % 9 = 0, CONCAT('gift wrap #', seq), NULL) FROM seq_1_to_150000;
INSERT INTO order_lines SELECT 1 + seq DIV 1.5, seq % 3, CONCAT('SKU-', LPAD(1 + seq % 10000, 6, '0')), 1 + seq % 4 FROM seq_1_to_200000
  ON DUPLICATE KEY UPDATE qty = qty + 1;
