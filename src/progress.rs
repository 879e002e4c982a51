//! The live progress of `ferry run`: a status line on a terminal, log lines elsewhere. It reads
//! the same [`TaskMetrics`] Prometheus serves.

use std::{io::IsTerminal, sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};

use crate::metrics::TaskMetrics;

/// Renders progress every 500 ms (terminal) or 10 s (logs) until the returned handle is aborted.
pub fn spawn(metrics: Arc<TaskMetrics>, force_plain: bool) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal() && !force_plain;
    tokio::spawn(async move {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar
        });
        let period = if terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(10)
        };
        let mut last = (std::time::Instant::now(), 0u64);
        loop {
            tokio::time::sleep(period).await;
            let moved = metrics.rows_copied.get() + metrics.events_applied.get();
            let rate = (moved - last.1) as f64 / last.0.elapsed().as_secs_f64().max(0.001);
            last = (std::time::Instant::now(), moved);
            let line = line(&metrics, rate);
            match &bar {
                Some(bar) => {
                    bar.set_message(line);
                    bar.tick();
                }
                None => tracing::info!(target: "ferry::progress", "{line}"),
            }
        }
    })
}

/// One progress line: phase, tables, rows, rate, position, lag, retry.
pub fn line(m: &TaskMetrics, rows_per_second: f64) -> String {
    let text = m.text();
    let mut out = format!(
        "{:<11} tables {}/{}  rows copied {} of ~{}  events applied {}  {:.0} rows/s  position {}  lag {}s",
        m.stage_label(),
        m.tables_done.get(),
        m.tables_total.get(),
        m.rows_copied.get(),
        m.rows_estimated.get(),
        m.events_applied.get(),
        rows_per_second,
        if text.position.is_empty() { "-" } else { &text.position },
        m.lag_seconds.get(),
    );
    if let Some(retry) = text.retry {
        out.push_str(&format!("  retrying: {retry}"));
    }
    out
}
