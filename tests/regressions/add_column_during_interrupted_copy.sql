-- Chaos finding (seed 9194758055040194938, `shop.kv_varchar`): the worker killed during the
-- full copy, then an ADD COLUMN and deletes on the source before it restarted. The table was
-- copied again from a new snapshot into a destination table that kept the rows of the first
-- copy, and the binlog before that snapshot (with the deletes) is not replayed for a table
-- copied from it: the deleted rows stayed in the destination, their new column NULL. Such a
-- table is now copied again into its emptied destination table.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)
INSERT INTO fz.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_400
@spec worker: {batchRows: 10, snapshotReaders: 1}
@spec throttling: {full: {rps: 100}}
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
