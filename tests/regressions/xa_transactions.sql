-- Finding 9: XA transactions. A prepared transaction is applied at its XA COMMIT, discarded at
-- its XA ROLLBACK, and survives a worker restart between PREPARE and COMMIT without loss or
-- double apply; XA COMMIT … ONE PHASE commits at once. Xids whose hex has letters ('zoo4' is
-- X'7A6F6F34'): servers print that hex in lower case in XA COMMIT, upper case elsewhere.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (100, 0)
@start
@wait
XA START 'x1'
INSERT INTO fz.t VALUES (1,1)
XA END 'x1'
XA PREPARE 'x1'
XA COMMIT 'x1'
XA START 'x2'
INSERT INTO fz.t VALUES (2,2)
XA END 'x2'
XA PREPARE 'x2'
XA ROLLBACK 'x2'
XA START 'x3'
INSERT INTO fz.t VALUES (3,3)
XA END 'x3'
XA COMMIT 'x3' ONE PHASE
XA START 'zoo4'
INSERT INTO fz.t VALUES (4,4)
UPDATE fz.t SET v = v + 1 WHERE id = 100
XA END 'zoo4'
XA PREPARE 'zoo4'
@disconnect
@session 2
INSERT INTO fz.t VALUES (5,5)
@wait
@kill
INSERT INTO fz.t VALUES (6,6)
XA COMMIT 'zoo4'
@start
@wait
XA START 'zoo5'
DELETE FROM fz.t WHERE id = 100
XA END 'zoo5'
XA PREPARE 'zoo5'
@disconnect
@session 3
@wait
@kill
@start
@wait
XA ROLLBACK 'zoo5'
INSERT INTO fz.t VALUES (7,7)
