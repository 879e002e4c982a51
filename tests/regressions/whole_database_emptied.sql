-- Found with listed_table_dropped: a database selected whole whose tables were all dropped
-- stopped the next `ferry run` with "source database `fz` has no tables or does not exist".
-- Once the task runs, that is a warning, and tables created in it later are followed.
CREATE DATABASE fz
USE fz
CREATE TABLE fz.a (id INT PRIMARY KEY, v INT)
INSERT INTO fz.a VALUES (1,1),(2,2)
@start
@wait
DROP TABLE fz.a
@wait
@kill
@start
@wait
CREATE TABLE fz.b (id INT PRIMARY KEY, v INT)
INSERT INTO fz.b VALUES (1,1)
