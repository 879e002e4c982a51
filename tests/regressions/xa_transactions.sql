-- Finding 9: XA transactions. A prepared transaction is applied at its XA COMMIT, discarded at
-- its XA ROLLBACK, and survives a worker restart between PREPARE and COMMIT without loss or
-- double apply; XA COMMIT … ONE PHASE commits at once.
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
XA START 'x4'
INSERT INTO fz.t VALUES (4,4)
UPDATE fz.t SET v = v + 1 WHERE id = 100
XA END 'x4'
XA PREPARE 'x4'
@disconnect
@session 2
INSERT INTO fz.t VALUES (5,5)
@wait
@kill
INSERT INTO fz.t VALUES (6,6)
XA COMMIT 'x4'
@start
@wait
XA START 'x5'
DELETE FROM fz.t WHERE id = 100
XA END 'x5'
XA PREPARE 'x5'
@disconnect
@session 3
@wait
@kill
@start
@wait
XA ROLLBACK 'x5'
INSERT INTO fz.t VALUES (7,7)
