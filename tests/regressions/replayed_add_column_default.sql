-- Fuzzer finding (seed 5): an ADD COLUMN with a DEFAULT, replayed after a restart when the
-- table has since been replaced with a narrower column of that name. The destination column
-- gets the type the source has now, which the old DEFAULT does not fit (error 1067); the
-- replacement further on decides the table's content, so the column is added without it.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, a INT)
INSERT INTO fz.t VALUES (1, 1)
@start
@wait
@kill
ALTER TABLE fz.t ADD COLUMN c VARCHAR(3) DEFAULT 'abc'
INSERT INTO fz.t (id, a) VALUES (2, 2)
CREATE OR REPLACE TABLE fz.t (id INT PRIMARY KEY, a INT, c CHAR(1))
INSERT INTO fz.t VALUES (3, 3, 'x')
@start
@wait
INSERT INTO fz.t VALUES (4, 4, 'y')
