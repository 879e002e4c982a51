//! A seeded write load on the `shop` fixture: inserts, updates (also of primary keys), deletes
//! and multi-statement transactions, as a user's application would make them.

use mysql_async::{Pool, TxOpts, prelude::Queryable};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Runs `ops` random operations against `pool`. Returns the number that committed.
pub async fn run(pool: &Pool, seed: u64, ops: usize) -> usize {
    run_inner(pool, seed, ops, false).await
}

/// Like [`run`], riding out faults: an operation that fails because the server went away, was
/// restarted, or turned read-only at a switchover is counted as not done and the load goes on
/// (with a new connection). What committed is what the destination must end with.
pub async fn run_through_faults(pool: &Pool, seed: u64, ops: usize) -> usize {
    run_inner(pool, seed, ops, true).await
}

async fn run_inner(pool: &Pool, seed: u64, ops: usize, through_faults: bool) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = match pool.get_conn().await {
        Ok(c) => c,
        Err(_) if through_faults => return 0,
        Err(e) => panic!("connect: {e}"),
    };
    let mut done = 0;
    for n in 0..ops {
        let pick = rng.random_range(0..100);
        let id: u64 = rng.random_range(1..60_000);
        let key = format!("{}-{}-ü", if id % 2 == 1 { "Key" } else { "key" }, id);
        let tag = format!("{seed}-{n}");
        let result = match pick {
            0..=19 => conn.exec_drop("INSERT INTO shop.kv_varchar (k, v, note) VALUES (?, JSON_ARRAY(?), ?)", (format!("new-{tag}"), n as u64, format!("ins {tag}"))).await,
            20..=34 => conn.exec_drop("UPDATE shop.kv_varchar SET v = JSON_ARRAY(?, 'upd'), note = ? WHERE k = ?", (n as u64, format!("upd {tag} ✓"), key.as_str())).await,
            35..=44 => conn.exec_drop("UPDATE shop.kv_varchar SET k = CONCAT(k, '~', ?) WHERE k = ?", (tag.as_str(), key.as_str())).await,
            45..=52 => conn.exec_drop("DELETE FROM shop.kv_varchar WHERE k >= ? ORDER BY k LIMIT 1", (key.as_str(),)).await,
            53..=67 => conn
                .exec_drop(
                    "UPDATE shop.all_types SET vc = ?, ts = NOW(6), d = d + 1.5, f = f * 2, tm = SEC_TO_TIME(?), j = JSON_SET(j, '$.u', ?), n = ? WHERE id = ?",
                    (format!("ü{tag}"), n as i64 - 1000, tag.as_str(), if n % 3 == 0 { None } else { Some(n as i64) }, id),
                )
                .await,
            68..=75 => conn.exec_drop("UPDATE shop.composite SET b = CONCAT(b, 'x') WHERE a = ? ORDER BY b LIMIT 1", (id % 1000,)).await,
            76..=82 => conn.exec_drop("DELETE FROM shop.composite WHERE a = ? ORDER BY b LIMIT 1", (id % 1000,)).await,
            83..=89 => conn.exec_drop("UPDATE shop.legacy_latin1 SET name = ?, payload = NULL WHERE id = ?", (format!("Ä{tag}"), id % 30_000)).await,
            90..=93 => conn.exec_drop("UPDATE shop.unique_key_only SET uid = uid + 1000000000, e = 'blue' WHERE uid = ?", ((id % 30_000) * 3,)).await,
            _ => {
                let begun = conn.start_transaction(TxOpts::default()).await;
                let mut tx = match begun {
                    Ok(tx) => tx,
                    Err(e) if !through_faults => panic!("begin: {e}"),
                    Err(_) => {
                        drop(begun);
                        match pool.get_conn().await {
                            Ok(c) => conn = c,
                            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                        }
                        continue;
                    }
                };
                let r = async {
                    tx.exec_drop("INSERT INTO shop.composite (a, b, c, v) VALUES (?, ?, NOW(6), ?)", (id % 1000, format!("tx{tag}"), "1.000001")).await?;
                    tx.exec_drop("UPDATE shop.kv_varchar SET note = ? WHERE k = ?", (format!("tx {tag}"), key.as_str())).await?;
                    tx.exec_drop("DELETE FROM shop.all_types WHERE id = ?", (id + 1,)).await?;
                    tx.exec_drop("INSERT INTO shop.all_types (id, vc, dt) VALUES (?, 'reborn', '2024-02-29')", (id + 1,)).await?;
                    Ok::<_, mysql_async::Error>(())
                }
                .await;
                match r {
                    Ok(()) => tx.commit().await,
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e)
                    }
                }
            }
        };
        match result {
            Ok(()) => done += 1,
            // A duplicate key from a random pick is the application's problem, not the test's.
            Err(mysql_async::Error::Server(e)) if e.code == 1062 => {}
            Err(_) if through_faults => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                match pool.get_conn().await {
                    Ok(c) => conn = c,
                    Err(_) => continue,
                }
            }
            Err(e) => panic!("load operation {n} failed: {e}"),
        }
    }
    done
}

/// One transaction that changes 110,000 rows.
pub async fn large_transaction(pool: &Pool) {
    let mut conn = pool.get_conn().await.expect("connect");
    let mut tx = conn.start_transaction(TxOpts::default()).await.expect("begin");
    tx.query_drop("UPDATE shop.all_types SET n = IFNULL(n, 0) + 1")
        .await
        .expect("update all_types");
    tx.query_drop("UPDATE shop.kv_varchar SET note = CONCAT(IFNULL(note, ''), '+')")
        .await
        .expect("update kv");
    tx.commit().await.expect("commit");
}
