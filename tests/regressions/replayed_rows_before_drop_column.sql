-- Found by the fuzzer (FERRY_FUZZ_SEED=12, case 0): rows logged before a DROP COLUMN and
-- replayed after a restart (the worker discovers the table without the column) left out a
-- destination column that is NOT NULL without a default, and the destination refused them
-- (error 1364) on every retry. Such rows are now written without strict mode until the DROP
-- COLUMN is replayed: the column gets its implicit default, then goes.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (k INT PRIMARY KEY, a INT, c2 TEXT NOT NULL, d DATETIME NOT NULL)
INSERT INTO fz.t VALUES (1, 1, 'one', '2020-01-01 00:00:00')
@start
@wait
@stop
INSERT INTO fz.t VALUES (2, 2, 'two', '2021-01-01 00:00:00')
UPDATE fz.t SET a = 10 WHERE k = 1
ALTER TABLE fz.t DROP COLUMN c2
INSERT INTO fz.t VALUES (3, 3, '2022-01-01 00:00:00')
ALTER TABLE fz.t DROP COLUMN d
INSERT INTO fz.t VALUES (4, 4)
@start
@wait
INSERT INTO fz.t VALUES (5, 5)
