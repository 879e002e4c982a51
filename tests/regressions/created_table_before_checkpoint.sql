-- Fuzzer finding (make fuzz, FERRY_FUZZ_CASE_SEED=4453746060154666282, 700 statements, 10
-- tables): a worker created the destination table of a table new to the task and stopped
-- before the checkpoint that records it; the source then replaced the table with another
-- shape (here, another key collation). The next run took the destination table for one the
-- task did not own and stopped ("compares its key differently"). A table Ferry is about to
-- create is now recorded as the task's own first, so the next run makes it anew and copies it.
-- The stop is forced with a trigger that fails the checkpoint write once the table exists.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v INT)
CREATE TABLE fz.u (k VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (1, 1)
INSERT INTO fz.u VALUES ('a', 1), ('B', 2)
@objects [{database: fz, tables: [{name: t}]}]
@start
@wait
@stop
@destination CREATE TRIGGER ferry.fail_once_u_exists BEFORE UPDATE ON ferry.ferry_checkpoint FOR EACH ROW BEGIN IF (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'fz' AND TABLE_NAME = 'u') > 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected: the checkpoint write fails'; END IF; END
@objects [{database: fz}]
@start
@sleep 3000
@kill
@destination DROP TRIGGER ferry.fail_once_u_exists
CREATE OR REPLACE TABLE fz.u (k VARCHAR(5) CHARACTER SET ascii COLLATE ascii_general_ci PRIMARY KEY, v INT)
INSERT INTO fz.u VALUES ('a', 10), ('c', 3)
@start
@wait
INSERT INTO fz.u VALUES ('d', 4)
