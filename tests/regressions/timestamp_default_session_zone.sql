-- Fuzzer finding (make fuzz, FERRY_FUZZ_CASE_SEED=18369415848651189196, 700 statements, 10
-- tables): `ALTER TABLE … ADD COLUMN c TIMESTAMP DEFAULT '…'` in a session with time_zone
-- '+05:30'. The DEFAULT is a time in that zone; the destination, whose sessions are in UTC,
-- read it as UTC, so the rows that existed got a time 5 h 30 off. The source now converts the
-- DEFAULT to UTC (the zone comes with the statement in the binlog).
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (1, 1), (2, 2)
@start
@wait
SET SESSION time_zone = '+05:30'
ALTER TABLE fz.t ADD COLUMN c TIMESTAMP(1) NULL DEFAULT '2019-05-23 14:22:09.6'
INSERT INTO fz.t (id, v) VALUES (3, 3)
SET SESSION time_zone = '-08:00'
ALTER TABLE fz.t ADD COLUMN d TIMESTAMP NOT NULL DEFAULT '2001-02-03 04:05:06', ADD COLUMN e DATETIME DEFAULT '2001-02-03 04:05:06'
INSERT INTO fz.t (id, v) VALUES (4, 4)
