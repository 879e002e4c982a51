-- Fuzzer finding (seed 5): a DROP COLUMN that the worker reaches after the table was replaced
-- (CREATE OR REPLACE with another key) further on in the binlog. Looking at the table then
-- shows the later one; the DROP itself touches no key column, so the key change belongs to the
-- later statement, which Ferry follows when it gets there — the task must not stop at the DROP.
-- The throttle keeps the worker behind the source, so both statements have run when it reads
-- the first.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, a INT, b INT)
CREATE TABLE fz.u (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (1, 1, 1)
@spec throttling: {incremental: {rps: 1000}}
@start
@wait
INSERT INTO fz.u SELECT seq, seq FROM seq_1_to_3000
ALTER TABLE fz.t DROP COLUMN b
INSERT INTO fz.t VALUES (2, 2)
CREATE OR REPLACE TABLE fz.t (k VARCHAR(5) PRIMARY KEY, a INT)
INSERT INTO fz.t VALUES ('x', 1)
@wait
INSERT INTO fz.t VALUES ('y', 2)
