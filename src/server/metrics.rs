//! `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! Counters and histograms live in this process; queue gauges are read from the database at
//! scrape time, so every replica reports the shared queue. The label values are fixed
//! `&'static str`s chosen by Nectr, never text from a request, so a client cannot grow the
//! metric set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Upper bounds (seconds) of the review-latency histogram's buckets.
const REVIEW_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Upper bounds (seconds) of the webhook-acknowledgement histogram's buckets.
const ACK_BUCKETS: [f64; 9] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

#[derive(Default)]
struct Histogram {
    /// Cumulative counts per bucket of the histogram's bounds, then `+Inf`.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; bounds.len() + 1];
        }
        for (i, bound) in bounds.iter().enumerate() {
            if value <= *bound {
                self.buckets[i] += 1;
            }
        }
        self.buckets[bounds.len()] += 1;
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, bounds: &[f64]) {
        for (i, bound) in bounds.iter().enumerate() {
            let n = self.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    deliveries: BTreeMap<&'static str, u64>,
    reviews: BTreeMap<&'static str, u64>,
    review_seconds: Histogram,
    ack_seconds: Histogram,
}

/// This process's counters. Cheap to update from any task.
pub struct Metrics {
    inner: Mutex<Inner>,
    /// `x-ratelimit-remaining` from the latest GitHub response a worker saw; -1 before any.
    github_rate_limit_remaining: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            inner: Mutex::default(),
            github_rate_limit_remaining: AtomicI64::new(-1),
        }
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A webhook delivery answered, by result (`queued`, `ignored`, `bad_signature`, …), and
    /// how long the answer took.
    pub fn delivery(&self, result: &'static str, took: Duration) {
        let mut inner = self.lock();
        *inner.deliveries.entry(result).or_default() += 1;
        inner.ack_seconds.observe(&ACK_BUCKETS, took.as_secs_f64());
    }

    /// A worker finished an event, by result (`posted`, `skipped`, `retry`, `failed`).
    pub fn review(&self, result: &'static str, took: Duration) {
        let mut inner = self.lock();
        *inner.reviews.entry(result).or_default() += 1;
        if result == "posted" {
            inner
                .review_seconds
                .observe(&REVIEW_BUCKETS, took.as_secs_f64());
        }
    }

    pub fn github_rate_limit(&self, remaining: Option<u64>) {
        if let Some(r) = remaining {
            self.github_rate_limit_remaining
                .store(r.min(i64::MAX as u64) as i64, Ordering::Relaxed);
        }
    }

    /// How many deliveries were answered with `result` so far.
    pub fn deliveries(&self, result: &str) -> u64 {
        self.lock().deliveries.get(result).copied().unwrap_or(0)
    }

    fn write(&self, out: &mut String) {
        let inner = self.lock();
        out.push_str(
            "# HELP nectr_webhook_deliveries_total Webhook deliveries answered, by result.\n",
        );
        out.push_str("# TYPE nectr_webhook_deliveries_total counter\n");
        for (result, n) in &inner.deliveries {
            let _ = writeln!(
                out,
                "nectr_webhook_deliveries_total{{result=\"{result}\"}} {n}"
            );
        }
        out.push_str("# HELP nectr_webhook_ack_seconds Time to answer a webhook delivery.\n");
        out.push_str("# TYPE nectr_webhook_ack_seconds histogram\n");
        inner
            .ack_seconds
            .write(out, "nectr_webhook_ack_seconds", &ACK_BUCKETS);
        out.push_str("# HELP nectr_reviews_total Queued events finished by this process's workers, by result.\n");
        out.push_str("# TYPE nectr_reviews_total counter\n");
        for (result, n) in &inner.reviews {
            let _ = writeln!(out, "nectr_reviews_total{{result=\"{result}\"}} {n}");
        }
        out.push_str(
            "# HELP nectr_review_seconds Time from claiming an event to its review being posted.\n",
        );
        out.push_str("# TYPE nectr_review_seconds histogram\n");
        inner
            .review_seconds
            .write(out, "nectr_review_seconds", &REVIEW_BUCKETS);
        let remaining = self.github_rate_limit_remaining.load(Ordering::Relaxed);
        if remaining >= 0 {
            out.push_str("# HELP nectr_github_rate_limit_remaining GitHub's x-ratelimit-remaining on the latest response a worker saw.\n");
            out.push_str("# TYPE nectr_github_rate_limit_remaining gauge\n");
            let _ = writeln!(out, "nectr_github_rate_limit_remaining {remaining}");
        }
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(2048);
    state.metrics.write(&mut out);
    match state.store.queue_stats(super::now()).await {
        Ok(stats) => {
            out.push_str("# HELP nectr_queue_depth Events in the shared queue, by status.\n");
            out.push_str("# TYPE nectr_queue_depth gauge\n");
            let _ = writeln!(
                out,
                "nectr_queue_depth{{status=\"pending\"}} {}",
                stats.pending
            );
            let _ = writeln!(
                out,
                "nectr_queue_depth{{status=\"running\"}} {}",
                stats.running
            );
            out.push_str("# HELP nectr_queue_oldest_pending_age_seconds How long the longest-waiting claimable event has waited.\n");
            out.push_str("# TYPE nectr_queue_oldest_pending_age_seconds gauge\n");
            let _ = writeln!(
                out,
                "nectr_queue_oldest_pending_age_seconds {}",
                stats.oldest_pending_age_secs
            );
            out.push_str("# HELP nectr_database_up Whether the database answered this scrape.\n");
            out.push_str("# TYPE nectr_database_up gauge\nnectr_database_up 1\n");
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read queue stats");
            out.push_str("# TYPE nectr_database_up gauge\nnectr_database_up 0\n");
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(&ACK_BUCKETS, 0.003);
        h.observe(&ACK_BUCKETS, 2.0);
        let mut out = String::new();
        h.write(&mut out, "x", &ACK_BUCKETS);
        assert!(out.contains("x_bucket{le=\"0.002\"} 0\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("x_count 2\n"), "{out}");
    }
}
