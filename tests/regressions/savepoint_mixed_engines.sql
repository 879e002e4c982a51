-- Finding 5: ROLLBACK TO SAVEPOINT in a transaction that also touched a non-transactional
-- (MyISAM) table. The server logs the rolled-back InnoDB row with the ROLLBACK TO; it must not
-- reach the destination. The same for a whole ROLLBACK of such a transaction.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.ti (id INT PRIMARY KEY, v INT) ENGINE=InnoDB
CREATE TABLE fz.tm (id INT PRIMARY KEY, v INT) ENGINE=MyISAM
@start
@wait
BEGIN
INSERT INTO fz.ti VALUES (1,1)
SAVEPOINT s1
INSERT INTO fz.ti VALUES (2,2)
UPDATE fz.ti SET v = 10 WHERE id = 1
INSERT INTO fz.tm VALUES (1,1)
SAVEPOINT s2
INSERT INTO fz.ti VALUES (5,5)
ROLLBACK TO SAVEPOINT s1
INSERT INTO fz.ti VALUES (3,3)
COMMIT
BEGIN
INSERT INTO fz.ti VALUES (10,1)
INSERT INTO fz.tm VALUES (10,1)
ROLLBACK
BEGIN
INSERT INTO fz.ti VALUES (20,1)
SAVEPOINT a
INSERT INTO fz.ti VALUES (21,1)
ROLLBACK TO a
RELEASE SAVEPOINT a
COMMIT
