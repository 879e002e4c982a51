-- Fuzzer finding (seed 3): two ADD COLUMNs replayed after a restart, the second placed before
-- the first (`AFTER` a column the destination does not have yet, since the replay adds them in
-- log order from the table's current shape). The destination must place each added column
-- after the nearest earlier column it has, not stop on "Unknown column".
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, a INT)
INSERT INTO fz.t VALUES (1, 1)
@start
@wait
@kill
ALTER TABLE fz.t ADD COLUMN c2 INT DEFAULT 2
ALTER TABLE fz.t ADD COLUMN c3 INT DEFAULT 3 AFTER a
INSERT INTO fz.t VALUES (2, 2, 3, 2)
@start
@wait
INSERT INTO fz.t (id, a, c3, c2) VALUES (3, 3, 33, 22)
