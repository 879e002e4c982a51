-- Found by the fuzzer: deletes by a BIT key matched nothing in the destination, because
-- `bit_column = X'F9'` is false there; key values are now written as numbers for BIT (and
-- unquoted for DECIMAL, by index for ENUM). A key change deletes the old key too.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (k BIT(8) NOT NULL, id INT NOT NULL, v INT, PRIMARY KEY (k, id))
CREATE TABLE fz.d (k DECIMAL(30,20) PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (b'11111001', 1, 1), (9, 2, 2), (0, 3, 3), (255, 4, 4)
INSERT INTO fz.d VALUES (0.10000000000000000001, 1), (0.10000000000000000002, 2), (-99999.00000000000000000001, 3)
@start
@wait
DELETE FROM fz.t WHERE k = 249
UPDATE fz.t SET k = 7 WHERE id = 2
DELETE FROM fz.t WHERE k = 0
DELETE FROM fz.d WHERE v = 1
UPDATE fz.d SET k = 5 WHERE v = 3
