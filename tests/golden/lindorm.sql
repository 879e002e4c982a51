-- namespace
--   CREATE DATABASE IF NOT EXISTS (LindormTable 2.2.16+): https://www.alibabacloud.com/help/en/doc-detail/342954.html
--   namespace names: 4-16 of A-Z a-z 0-9 _ -: https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits
--   backtick-quoted identifiers: https://help.aliyun.com/en/lindorm/developer-reference/lexical-structure
CREATE DATABASE IF NOT EXISTS `shop_ns`;

-- create table: every mapped type
--   CREATE TABLE IF NOT EXISTS … PRIMARY KEY(…): https://www.alibabacloud.com/help/en/lindorm/developer-reference/the-create-table
--   types: TINYINT SMALLINT INTEGER BIGINT, BIGINT UNSIGNED (the one unsigned type), FLOAT DOUBLE DECIMAL(p<=38,s) VARCHAR VARBINARY DATE TIMESTAMP: https://www.alibabacloud.com/help/en/lindorm/developer-reference/basic-data-types
--   JSON (LindormTable 2.6.2+, not in a key): https://help.aliyun.com/en/lindorm/developer-reference/json-data-type
CREATE TABLE IF NOT EXISTS `shop_ns`.`every_type` (`id` BIGINT NOT NULL, `ti` TINYINT, `tiu` SMALLINT, `si` SMALLINT, `siu` INTEGER, `mi` INTEGER, `miu` INTEGER, `i` INTEGER, `iu` BIGINT, `biu` BIGINT UNSIGNED, `f` FLOAT, `d` DOUBLE, `dec` DECIMAL(38,10), `vc` VARCHAR, `t` VARCHAR, `vb` VARBINARY, `dt` DATE, `dtm` TIMESTAMP, `ts` TIMESTAMP, `tm` VARCHAR, `y` SMALLINT, `j` JSON, `e` VARCHAR, `s` VARCHAR, PRIMARY KEY(`id`));

-- create table: composite key; table names of A-Z a-z 0-9 _ - . (not first)
--   CREATE TABLE, `.` in a table name: https://www.alibabacloud.com/help/en/lindorm/developer-reference/the-create-table
--   table names, at most 5 key columns and 2 KB of key values: https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits
CREATE TABLE IF NOT EXISTS `shop_ns`.`order-lines.v2` (`order_id` BIGINT UNSIGNED NOT NULL, `sku` VARCHAR NOT NULL, `qty` INTEGER, PRIMARY KEY(`order_id`, `sku`));

-- upsert batch: every literal form (session without backslash escapes)
--   UPSERT INTO t (cols) VALUES (…), (…): at most 2,000 rows and 64 MB a request, no version hint: https://www.alibabacloud.com/help/en/doc-detail/216804.html
--   request limits: https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits
--   integers; DECIMAL as digits; FLOAT and DOUBLE in scientific notation: https://www.alibabacloud.com/help/en/lindorm/developer-reference/basic-data-types
--   single-quoted strings: https://help.aliyun.com/en/lindorm/developer-reference/lexical-structure
--   VARBINARY as a hexadecimal string ('ef0011'): https://help.aliyun.com/document_detail/409604.htm
--   DATE 'yyyy-mm-dd'; TIMESTAMP as epoch milliseconds (independent of the session's time zone): https://www.alibabacloud.com/help/en/lindorm/user-guide/how-to-set-the-time-zone-for-a-connection
--   JSON as its text: https://help.aliyun.com/en/lindorm/developer-reference/json-data-type
--   empty VARBINARY written as NULL, as DTS does: https://www.alibabacloud.com/help/en/dts/user-guide/synchronize-data-from-a-polardb-for-mysql-cluster-to-a-lindorm-instance
--   a quote doubled: a session without backslash escapes whose probe read '' as one quote (inferred: the pages document only backslash escapes): https://help.aliyun.com/document_detail/2593172.html
UPSERT INTO `shop_ns`.`every_type` (`id`, `ti`, `tiu`, `si`, `siu`, `mi`, `miu`, `i`, `iu`, `biu`, `f`, `d`, `dec`, `vc`, `t`, `vb`, `dt`, `dtm`, `ts`, `tm`, `y`, `j`, `e`, `s`) VALUES (-9223372036854775808, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, 18446744073709551615, 1.25e-7, 1e308, -1234567890123456789012345678.0123456789, 'it''s a \ back-slash, 日本語 😀', 'line
break', '00deadbeef', '2024-02-29', 253402300799999, 1500, '-838:59:59.000000', 2155, '{"k": [1, "two"]}', 'b', 'x,y'), (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -0e0, 2.2250738585072014e-308, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- upsert: same row, session with backslash escapes
--   UPSERT INTO t (cols) VALUES (…), (…): at most 2,000 rows and 64 MB a request, no version hint: https://www.alibabacloud.com/help/en/doc-detail/216804.html
--   request limits: https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits
--   integers; DECIMAL as digits; FLOAT and DOUBLE in scientific notation: https://www.alibabacloud.com/help/en/lindorm/developer-reference/basic-data-types
--   single-quoted strings: https://help.aliyun.com/en/lindorm/developer-reference/lexical-structure
--   VARBINARY as a hexadecimal string ('ef0011'): https://help.aliyun.com/document_detail/409604.htm
--   DATE 'yyyy-mm-dd'; TIMESTAMP as epoch milliseconds (independent of the session's time zone): https://www.alibabacloud.com/help/en/lindorm/user-guide/how-to-set-the-time-zone-for-a-connection
--   JSON as its text: https://help.aliyun.com/en/lindorm/developer-reference/json-data-type
--   empty VARBINARY written as NULL, as DTS does: https://www.alibabacloud.com/help/en/dts/user-guide/synchronize-data-from-a-polardb-for-mysql-cluster-to-a-lindorm-instance
--   \' and \\ (Lindorm SQL 2.8.4.8+, unless NO_BACKSLASH_ESCAPES): https://help.aliyun.com/document_detail/2593172.html
UPSERT INTO `shop_ns`.`every_type` (`id`, `ti`, `tiu`, `si`, `siu`, `mi`, `miu`, `i`, `iu`, `biu`, `f`, `d`, `dec`, `vc`, `t`, `vb`, `dt`, `dtm`, `ts`, `tm`, `y`, `j`, `e`, `s`) VALUES (-9223372036854775808, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, 18446744073709551615, 1.25e-7, 1e308, -1234567890123456789012345678.0123456789, 'it\'s a \\ back-slash, 日本語 😀', 'line
break', '00deadbeef', '2024-02-29', 253402300799999, 1500, '-838:59:59.000000', 2155, '{"k": [1, "two"]}', 'b', 'x,y');

-- delete: every key column by equality, no hint (the grammar takes none; the tombstone has the server's time)
--   DELETE FROM t WHERE <every key column> = …: https://help.aliyun.com/en/lindorm/developer-reference/the-delete
--   a quote doubled: a session without backslash escapes whose probe read '' as one quote (inferred): https://help.aliyun.com/document_detail/2593172.html
DELETE FROM `shop_ns`.`order-lines.v2` WHERE `order_id` = 42 AND `sku` = 'SKU-''1''';

-- create table: a binary key column, last in the key
--   CREATE TABLE: https://www.alibabacloud.com/help/en/lindorm/developer-reference/the-create-table
--   VARBINARY only as the last key column: https://www.alibabacloud.com/help/en/lindorm/product-overview/quotas-and-limits
CREATE TABLE IF NOT EXISTS `shop_ns`.`blobs` (`order_id` BIGINT UNSIGNED NOT NULL, `sku` VARBINARY NOT NULL, `qty` INTEGER, PRIMARY KEY(`order_id`, `sku`));

-- delete: a binary key column, as a hexadecimal string
--   DELETE: https://help.aliyun.com/en/lindorm/developer-reference/the-delete
--   VARBINARY as a hexadecimal string (documented for dynamic columns; inferred for declared columns and WHERE): https://help.aliyun.com/document_detail/409604.htm
DELETE FROM `shop_ns`.`blobs` WHERE `order_id` = 42 AND `sku` = 'ef0011';

-- add column: type only (no DEFAULT, NOT NULL or FIRST/AFTER)
--   ALTER TABLE … ADD COLUMN c type: https://help.aliyun.com/en/lindorm/developer-reference/the-alter-table
--   DEFAULT stripped as DTS does: https://www.alibabacloud.com/help/en/dts/user-guide/synchronize-data-from-a-polardb-for-mysql-cluster-to-a-lindorm-instance
ALTER TABLE `shop_ns`.`order-lines.v2` ADD COLUMN `note` VARCHAR;

-- drop column (LindormTable 2.6.6+)
--   ALTER TABLE … DROP COLUMN c: https://help.aliyun.com/en/lindorm/developer-reference/the-alter-table
ALTER TABLE `shop_ns`.`order-lines.v2` DROP COLUMN `qty`;

-- drop table
--   DROP TABLE IF EXISTS: https://alibabacloud.com/help/en/lindorm/latest/the-drop-table
DROP TABLE IF EXISTS `shop_ns`.`order-lines.v2`;

-- truncate table
--   TRUNCATE TABLE: https://help.aliyun.com/en/lindorm/developer-reference/the-truncate-table
TRUNCATE TABLE `shop_ns`.`order-lines.v2`;

-- describe an existing table (its answer's column names are inferred; either spelling is read)
--   DESCRIBE: https://www.alibabacloud.com/help/en/lindorm/developer-reference/ddl-command-overview
DESCRIBE `shop_ns`.`order-lines.v2`;

-- index tables of an existing table (lindormIndexMutability precheck)
--   SHOW INDEX FROM t: INDEX_TYPE SECONDARY or SEARCH: https://www.alibabacloud.com/help/en/lindorm/latest/the-show-index
SHOW INDEX FROM `shop_ns`.`order-lines.v2`;

-- mutability of an existing table (LindormTable 2.6.3+, SQL 2.6.6+; LIKE on this attribute inferred)
--   SHOW TABLE VARIABLES FROM t [LIKE 'pattern']: https://help.aliyun.com/document_detail/2636961.html
--   MUTABILITY: https://help.aliyun.com/document_detail/403313.html
SHOW TABLE VARIABLES FROM `shop_ns`.`order-lines.v2` LIKE 'MUTABILITY';

-- checkpoint table: strongly consistent, so reads see acknowledged writes and ON DUPLICATE KEY can claim
--   WITH (CONSISTENCY='strong') (inferred spelling of the documented table option): https://www.alibabacloud.com/help/en/lindorm/developer-reference/the-create-table
--   CONSISTENCY and ON DUPLICATE KEY: https://www.alibabacloud.com/help/en/doc-detail/216804.html
CREATE TABLE IF NOT EXISTS `ferry`.`ferry_checkpoint` (`task` VARCHAR NOT NULL, `epoch` BIGINT NOT NULL, `owner` VARCHAR, `state` VARCHAR, `updated_at` BIGINT, PRIMARY KEY(`task`, `epoch`)) WITH (CONSISTENCY='strong');

-- checkpoint claim: a compare-and-set on (task, epoch)
--   INSERT … ON DUPLICATE KEY ERROR (LindormTable 2.7.8+, CONSISTENCY='strong' tables only): https://www.alibabacloud.com/help/en/doc-detail/216804.html
INSERT INTO `ferry`.`ferry_checkpoint` (`task`, `epoch`, `owner`, `state`, `updated_at`) VALUES ('default/t', 3, '00ab', '{}', 1700000000000) ON DUPLICATE KEY ERROR;

-- checkpoint row: the claiming worker's own row
--   UPSERT: https://www.alibabacloud.com/help/en/doc-detail/216804.html
UPSERT INTO `ferry`.`ferry_checkpoint` (`task`, `epoch`, `owner`, `state`, `updated_at`) VALUES ('default/t', 3, '00ab', '{"position":null}', 1700000000001);

