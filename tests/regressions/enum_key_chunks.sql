-- Finding 1: an ENUM in the primary key. ORDER BY sorts an ENUM by its index ('zeta' = 1 before
-- 'alpha' = 2); keyset chunks that compared labels as strings skipped every 'alpha' row after the
-- first chunk. Small chunks and three snapshot readers cut the table into many key ranges.
@spec worker: {batchRows: 7, snapshotReaders: 3}
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (kind ENUM('zeta','alpha') NOT NULL, id INT NOT NULL, v VARCHAR(10), PRIMARY KEY (kind, id))
INSERT INTO fz.t SELECT ELT(1 + seq % 2, 'zeta', 'alpha'), seq, CONCAT('v', seq) FROM seq_1_to_600
CREATE TABLE fz.s (tags SET('red','green','blue') NOT NULL, id INT NOT NULL, PRIMARY KEY (tags, id), v INT)
INSERT INTO fz.s SELECT ELT(1 + seq % 4, 'blue', 'red', 'green,blue', 'red,green'), seq, seq FROM seq_1_to_300
ANALYZE TABLE fz.t, fz.s
@start
@wait
UPDATE fz.t SET kind = 'zeta' WHERE id % 10 = 3
DELETE FROM fz.t WHERE kind = 'alpha' AND id % 7 = 0
UPDATE fz.s SET tags = 'red,blue' WHERE id % 9 = 0
