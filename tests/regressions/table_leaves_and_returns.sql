-- Finding 6: a table removed from `objects` and later added back. While it was out, its rows
-- changed; when it comes back it is copied again and then followed.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.a (id INT PRIMARY KEY, v INT)
CREATE TABLE fz.b (id INT PRIMARY KEY, v INT)
INSERT INTO fz.a VALUES (1,1),(2,2)
INSERT INTO fz.b VALUES (1,1),(2,2),(3,3)
@start
@wait
@stop
@objects [{database: fz, tables: [{name: a}]}]
@start
@wait
INSERT INTO fz.b VALUES (4,4)
DELETE FROM fz.b WHERE id = 1
UPDATE fz.b SET v = 20 WHERE id = 2
INSERT INTO fz.a VALUES (3,3)
@wait
@stop
@objects [{database: fz}]
@start
@wait
UPDATE fz.b SET v = 30 WHERE id = 3
