-- Fuzzer finding (make fuzz, FERRY_FUZZ_CASE_SEED=15962258549253144033 with 700 statements and
-- 10 tables): the MySQL sink's lanes are transactions of their own on the same table, and
-- InnoDB's gap locks deadlocked them — a delete of a key the destination never held (inserted
-- and deleted within one batch) locks the gap around it, while another lane inserts into that
-- gap. The retry from the checkpoint met the same locks, again and again, and the task never
-- caught up. A batch whose lanes contend is now written in one transaction.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t SELECT seq * 10, seq FROM seq_1_to_3000
@spec worker: {applyLanes: 8, batchRows: 50000}
@start
@wait
BEGIN
INSERT INTO fz.t SELECT seq * 10 + 1, 0 FROM seq_1_to_3000
INSERT INTO fz.t SELECT seq * 10 + 2, 0 FROM seq_1_to_3000
DELETE FROM fz.t WHERE id % 10 = 1
COMMIT
BEGIN
INSERT INTO fz.t SELECT seq * 10 + 3, 0 FROM seq_1_to_3000
INSERT INTO fz.t SELECT seq * 10 + 4, 0 FROM seq_1_to_3000
DELETE FROM fz.t WHERE id % 10 = 3
COMMIT
