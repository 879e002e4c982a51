-- As add_column_during_interrupted_copy, with `conflictingTables: ignore`: the destination
-- table is used as it is when it is emptied for the new copy, so the column the source added
-- must be added to it (review of that fix: the copy failed on the missing column for good).
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)
INSERT INTO fz.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_400
@spec worker: {batchRows: 10, snapshotReaders: 1}
@spec throttling: {full: {rps: 100}}
@spec conflictingTables: ignore
@start
@sleep 2500
@kill
DELETE FROM fz.t WHERE id <= 40
UPDATE fz.t SET id = id + 1000 WHERE id BETWEEN 41 AND 60
ALTER TABLE fz.t ADD COLUMN c INT DEFAULT 7
INSERT INTO fz.t (id, v) VALUES (2000, 'after')
@start
@wait
DELETE FROM fz.t WHERE id = 100
