//! Load limits (`spec.throttling`): token buckets (governor) for source queries, rows and bytes
//! per second, shared by every snapshot reader of a run (full sync) or put in front of the
//! applier (incremental). Waiting is counted in `ferry_throttled_seconds_total` and in
//! `status.throttledSeconds`.
//!
//! A bucket holds one second of its rate, so a burst never exceeds the limit over any second.
//! A changed limit takes effect when the worker restarts from its checkpoint (the operator
//! restarts it on every spec change; `ferry run` on restart): nothing is lost or repeated.

use std::{num::NonZeroU32, sync::Arc, time::Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::{api::ThrottlingSpec, metrics::TaskMetrics};

/// Which phase's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Full,
    Incremental,
}

/// The limits of one phase.
pub struct Throttle {
    queries: Option<DefaultDirectRateLimiter>,
    rows: Option<DefaultDirectRateLimiter>,
    bytes: Option<DefaultDirectRateLimiter>,
    metrics: Arc<TaskMetrics>,
}

fn bucket(per_second: Option<u64>) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(u32::try_from(per_second?).unwrap_or(u32::MAX))?;
    Some(RateLimiter::direct(Quota::per_second(rate)))
}

impl Throttle {
    /// The limits `spec` sets for `phase` (none when it sets none).
    pub fn new(spec: Option<&ThrottlingSpec>, phase: Phase, metrics: Arc<TaskMetrics>) -> Arc<Throttle> {
        let (qps, rps, mbps) = match (spec, phase) {
            (Some(s), Phase::Full) => s.full.as_ref().map_or((None, None, None), |f| (f.source_qps, f.rps, f.mbps)),
            (Some(s), Phase::Incremental) => s.incremental.as_ref().map_or((None, None, None), |i| (None, i.rps, i.mbps)),
            (None, _) => (None, None, None),
        };
        Arc::new(Throttle {
            queries: bucket(qps.map(u64::from)),
            rows: bucket(rps.map(u64::from)),
            // MB/s in bytes; a bucket counts at most u32::MAX per second (4 GB/s).
            bytes: bucket(mbps.map(|m| u64::from(m) << 20)),
            metrics,
        })
    }

    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.queries.is_some() || self.rows.is_some() || self.bytes.is_some()
    }

    /// Waits until `queries`, `rows` and `bytes` fit the limits, and counts the wait.
    pub async fn acquire(&self, queries: u64, rows: u64, bytes: u64) {
        self.metrics.source_queries.inc_by(queries);
        self.metrics.bytes_read.inc_by(bytes);
        if !self.is_set() {
            return;
        }
        let start = Instant::now();
        for (limiter, n) in [(&self.queries, queries), (&self.rows, rows), (&self.bytes, bytes)] {
            if let Some(limiter) = limiter {
                take(limiter, n).await;
            }
        }
        let waited = start.elapsed().as_secs_f64();
        if waited > 0.001 {
            self.metrics.throttled_seconds.inc_by(waited);
        }
    }
}

/// Takes `n` cells, in pieces no larger than the bucket (one second of the rate).
async fn take(limiter: &DefaultDirectRateLimiter, mut n: u64) {
    while n > 0 {
        // The burst size is the per-second rate; probing with 1 tells it when n is too large.
        let mut piece = n.min(u64::from(u32::MAX)) as u32;
        loop {
            let Some(cells) = NonZeroU32::new(piece) else { return };
            match limiter.until_n_ready(cells).await {
                Ok(()) => break,
                Err(insufficient) => piece = insufficient.0.min(piece.saturating_sub(1)).max(1),
            }
        }
        n -= u64::from(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FullThrottle, IncrementalThrottle};

    #[tokio::test]
    async fn rows_beyond_the_rate_wait_and_are_counted() {
        let metrics = TaskMetrics::new("t").expect("metrics");
        let spec = ThrottlingSpec {
            full: Some(FullThrottle {
                rps: Some(100),
                ..Default::default()
            }),
            incremental: Some(IncrementalThrottle {
                mbps: Some(1),
                ..Default::default()
            }),
        };
        let full = Throttle::new(Some(&spec), Phase::Full, metrics.clone());
        let start = Instant::now();
        // 100 fit the first second's bucket; the next 150 take at least 1.4 s.
        full.acquire(1, 250, 0).await;
        assert!(start.elapsed().as_secs_f64() >= 1.4, "{:?}", start.elapsed());
        assert!(metrics.throttled_seconds.get() >= 1.4);
        let none = Throttle::new(None, Phase::Full, metrics.clone());
        assert!(!none.is_set());
        let incremental = Throttle::new(Some(&spec), Phase::Incremental, metrics);
        assert!(incremental.rows.is_none() && incremental.bytes.is_some());
    }
}
