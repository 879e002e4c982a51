-- Fuzzer case 7874703291829923465 (make fuzz, case 249 of 300), reduced: a transaction on an
-- InnoDB table that also changed a MyISAM table and rolled back (to a savepoint set before its
-- first row, then whole) is logged with its InnoDB rows; the table became MyISAM later. A
-- worker reading that part of the binlog after the ALTER took the rows for non-transactional
-- ones and kept them (100 rows the source does not have). In row format a transaction's own
-- event group holds rows of transactional tables only (the server logs non-transactional rows
-- as groups of their own), so every row a ROLLBACK [TO] undoes is dropped, whatever the
-- table's engine is now.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (k BINARY(16) NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB
CREATE TABLE fz.u (k INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB
CREATE TABLE fz.m (k INT NOT NULL PRIMARY KEY, v INT) ENGINE=MyISAM
INSERT INTO fz.t VALUES (X'01', 1)
@start
@wait
@kill
START TRANSACTION
SAVEPOINT sp0
INSERT INTO fz.u VALUES (1, 1)
INSERT IGNORE INTO fz.t SELECT LEFT(UNHEX(LPAD(HEX((seq + 3592) * 256), 16, '0')), 16), seq FROM seq_1_to_100
INSERT INTO fz.m VALUES (1, 1)
ROLLBACK TO SAVEPOINT sp0
INSERT INTO fz.u VALUES (2, 2)
ROLLBACK
START TRANSACTION
INSERT INTO fz.t VALUES (X'02', 2)
SAVEPOINT sp1
INSERT INTO fz.t VALUES (X'03', 3)
INSERT INTO fz.m VALUES (2, 2)
UPDATE fz.u SET v = 5
ROLLBACK TO sp1
INSERT INTO fz.u VALUES (3, 3)
COMMIT
ALTER TABLE fz.t ENGINE=MyISAM
ALTER TABLE fz.u ENGINE=Aria
@start
@wait
