-- Finding 7: ALTER TABLE … ADD COLUMN c, DROP COLUMN d in one statement; and a DROP COLUMN that
-- the worker replays after a restart, when discovery already shows the table without it. The
-- dropped NOT NULL column must leave the destination, or every later insert fails.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, d INT NOT NULL, v INT)
CREATE TABLE fz.u (id INT PRIMARY KEY, d INT NOT NULL, v INT)
INSERT INTO fz.t VALUES (1, 1, 1)
INSERT INTO fz.u VALUES (1, 1, 1)
@start
@wait
ALTER TABLE fz.t ADD COLUMN c INT, DROP COLUMN d
INSERT INTO fz.t (id, v, c) VALUES (2, 2, 2)
@wait
@kill
ALTER TABLE fz.u DROP COLUMN d, ADD COLUMN e VARCHAR(5) DEFAULT 'x' FIRST
INSERT INTO fz.u (id, v) VALUES (2, 2)
@start
@wait
INSERT INTO fz.u (id, v, e) VALUES (3, 3, 'y')
