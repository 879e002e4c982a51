-- namespace
CREATE DATABASE IF NOT EXISTS `shop_ns`;

-- create table: every mapped type
CREATE TABLE IF NOT EXISTS `shop_ns`.`every_type` (`id` BIGINT NOT NULL, `ti` TINYINT, `tiu` SMALLINT, `si` SMALLINT, `siu` INTEGER, `mi` INTEGER, `miu` INTEGER, `i` INTEGER, `iu` BIGINT, `biu` DECIMAL(20,0), `f` FLOAT, `d` DOUBLE, `dec` DECIMAL(38,10), `vc` VARCHAR, `t` VARCHAR, `vb` VARBINARY, `dt` DATE, `dtm` TIMESTAMP, `ts` TIMESTAMP, `tm` VARCHAR, `y` SMALLINT, `j` JSON, `e` VARCHAR, `s` VARCHAR, PRIMARY KEY(`id`));

-- create table: composite key, quoted names
CREATE TABLE IF NOT EXISTS `shop_ns`.`order``lines` (`order_id` DECIMAL(20,0) NOT NULL, `sku` VARCHAR NOT NULL, `qty` INTEGER, PRIMARY KEY(`order_id`, `sku`));

-- upsert batch: every literal form (session without backslash escapes)
UPSERT /*+ _l_ts_(1700000000123) */ INTO `shop_ns`.`every_type` (`id`, `ti`, `tiu`, `si`, `siu`, `mi`, `miu`, `i`, `iu`, `biu`, `f`, `d`, `dec`, `vc`, `t`, `vb`, `dt`, `dtm`, `ts`, `tm`, `y`, `j`, `e`, `s`) VALUES (-9223372036854775808, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, 18446744073709551615, 1.25e-7, 1e308, -1234567890123456789012345678.0123456789, 'it''s a \ back-slash, 日本語 😀', 'line
break', x'00DEADBEEF', '2024-02-29', 253402300799999, 1500, '-838:59:59.000000', 2155, '{"k": [1, "two"]}', 'b', 'x,y'), (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -0e0, 2.2250738585072014e-308, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- upsert: same row, session with backslash escapes
UPSERT /*+ _l_ts_(1700000000124) */ INTO `shop_ns`.`every_type` (`id`, `ti`, `tiu`, `si`, `siu`, `mi`, `miu`, `i`, `iu`, `biu`, `f`, `d`, `dec`, `vc`, `t`, `vb`, `dt`, `dtm`, `ts`, `tm`, `y`, `j`, `e`, `s`) VALUES (-9223372036854775808, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, 18446744073709551615, 1.25e-7, 1e308, -1234567890123456789012345678.0123456789, 'it''s a \\ back-slash, 日本語 😀', 'line
break', x'00DEADBEEF', '2024-02-29', 253402300799999, 1500, '-838:59:59.000000', 2155, '{"k": [1, "two"]}', 'b', 'x,y');

-- delete: every key column by equality
DELETE /*+ _l_ts_(1700000000125) */ FROM `shop_ns`.`order``lines` WHERE `order_id` = 42 AND `sku` = 'SKU-''1''';

