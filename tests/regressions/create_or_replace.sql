-- Finding 4: CREATE OR REPLACE TABLE replaces the table and its rows; the destination must not
-- keep the old ones (also with a new shape, and with the rows of CREATE OR REPLACE … SELECT).
CREATE DATABASE fz
USE fz
CREATE TABLE fz.t (id INT PRIMARY KEY, v INT)
CREATE TABLE fz.u (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (1,1),(2,2),(3,3)
INSERT INTO fz.u VALUES (1,1),(2,2)
@start
@wait
CREATE OR REPLACE TABLE fz.t (id INT PRIMARY KEY, v INT)
INSERT INTO fz.t VALUES (4,4)
CREATE OR REPLACE TABLE fz.u (id BIGINT PRIMARY KEY, w VARCHAR(10)) SELECT 7 AS id, 'seven' AS w
INSERT INTO fz.u VALUES (8, 'eight')
