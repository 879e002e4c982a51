-- Fuzzer finding (seed 3): an XA transaction prepared after the checkpoint and committed after
-- a table's copy started. A table that joins the task (or comes back) is copied from a snapshot
-- later than the checkpoint, and its binlog events before that snapshot are skipped (the copy
-- holds them) — but a prepared XA transaction's rows are not in a snapshot taken before its
-- XA COMMIT: they take effect at the commit, and must be applied there.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.a (id INT PRIMARY KEY, v INT)
CREATE TABLE fz.b (id INT PRIMARY KEY, v INT)
INSERT INTO fz.a VALUES (1,1),(2,2)
INSERT INTO fz.b VALUES (1,1),(2,2),(3,3)
@objects [{database: fz, tables: [{name: a}]}]
@start
@wait
@stop
@session 2
XA START 'x1'
UPDATE fz.b SET v = v + 10
INSERT INTO fz.a VALUES (3,3)
XA END 'x1'
XA PREPARE 'x1'
@disconnect
@objects [{database: fz}]
@start
@wait
XA COMMIT 'x1'
@wait
UPDATE fz.b SET v = v + 100 WHERE id = 3
