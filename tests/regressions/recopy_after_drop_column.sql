-- Fuzzer finding (seed 3): a table copied again (an ADD COLUMN with values the destination
-- cannot compute) from a snapshot taken after a later DROP COLUMN. That DROP precedes the
-- snapshot, so it is not replayed: the destination table must be fitted to the source's shape
-- when it is emptied for the new copy, or it keeps the dropped column.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, c1 JSON NULL, c2 INT NOT NULL)
INSERT INTO fz.t VALUES (1, '[1]', 1), (2, NULL, 2)
@start
@wait
@stop
ALTER TABLE fz.t ADD COLUMN c3 DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6)
ALTER TABLE fz.t DROP COLUMN c1, DROP COLUMN c2
INSERT INTO fz.t (id) VALUES (3)
@start
@wait
INSERT INTO fz.t (id) VALUES (4)
