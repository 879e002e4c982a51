-- Finding 3: a case-insensitive key (the default collation) changed only in case, over eight
-- apply lanes. To the server 'key1' and 'KEY1' are one row: the delete of the old image and the
-- upsert of the new one must stay in order, and the row must end byte-identical to the source.
@spec worker: {applyLanes: 8}
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (k VARCHAR(20) PRIMARY KEY, v INT)
CREATE TABLE fz.p (k VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, v INT)
INSERT INTO fz.t SELECT CONCAT('key', seq), seq FROM seq_1_to_3000
INSERT INTO fz.p SELECT CONCAT('key', seq), seq FROM seq_1_to_1000
@start
@wait
UPDATE fz.t SET k = UPPER(k)
UPDATE fz.t SET k = LOWER(k) WHERE v % 3 = 0
UPDATE fz.p SET k = CONCAT(k, '  ')
UPDATE fz.p SET k = TRIM(k) WHERE v % 2 = 0
