-- Fuzzer finding (make fuzz, FERRY_FUZZ_CASE_SEED=7289185830668405377, 700 statements, 10 tables):
-- `ALTER TABLE … ADD COLUMN c … DEFAULT
-- 'x\'' …, DROP COLUMN d`. A backslash-escaped quote ended the string when the alterations were
-- cut at commas, so the ADD and the DROP read as one ADD Ferry could not parse, and the task
-- stopped. The rows that existed get the DEFAULT on the destination, byte for byte.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, d INT NOT NULL, v VARCHAR(10))
INSERT INTO fz.t VALUES (1, 1, 'a'), (2, 2, 'b')
@start
@wait
ALTER TABLE fz.t ADD COLUMN c VARCHAR(40) CHARACTER SET utf8mb3 COLLATE utf8mb3_unicode_ci NOT NULL DEFAULT 'éİ Ωǅ\\ it\'s' AFTER id, DROP COLUMN d
INSERT INTO fz.t (id, v) VALUES (3, 'c')
UPDATE fz.t SET v = 'z' WHERE id = 1
