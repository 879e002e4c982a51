-- Finding 10: an ENUM holding the error value '' (index 0), written by a non-strict session.
-- The destination's strict session must store it too, not refuse it.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, e ENUM('a','b') NOT NULL, n ENUM('', 'x') NULL)
INSERT INTO fz.t VALUES (1, 'a', ''), (2, 'b', 'x')
SET SESSION sql_mode = ''
INSERT INTO fz.t VALUES (3, 'bogus', 'bogus')
@start
@wait
INSERT INTO fz.t VALUES (4, 'nope', '')
UPDATE fz.t SET e = 'zzz' WHERE id = 1
SET SESSION sql_mode = DEFAULT
INSERT INTO fz.t VALUES (5, 'b', NULL)
