-- Found by the fuzzer: a negative TIME(1) or TIME(2) with a fraction, read from the binlog.
-- mysql_common computed its fraction unsigned (a panic in debug builds, a wrong value in
-- release builds); vendor/mysql_common carries the fix.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, t1 TIME(1), t2 TIME(2), t3 TIME(3), t6 TIME(6))
@start
@wait
INSERT INTO fz.t VALUES (1, '-00:00:01.5', '-12:30:00.25', '-838:59:58.999', '-00:00:00.000001')
INSERT INTO fz.t VALUES (2, '-1:00:00.1', '-0:00:00.01', '-1:00:00.5', '-838:59:59')
INSERT INTO fz.t VALUES (3, '00:00:01.5', '12:30:00.99', '838:59:58.999', '00:00:00.000001')
UPDATE fz.t SET t1 = '-34:56:07.9', t2 = '-34:56:07.99' WHERE id = 3
