//! Rate limits and retries: what to do after each GitHub response.
//!
//! The decision is a pure function of the request kind, the attempt number, the response
//! (or its absence) and the clock, so every branch is tested without a server:
//! - 403/429 that is a rate limit: wait for `retry-after`, else until `x-ratelimit-reset`
//!   when `x-ratelimit-remaining` is 0, else back off (secondary limits) — never longer than
//!   the configured cap. A rate-limited request was not processed, so even a POST may be
//!   sent again.
//! - 5xx and timeouts: retry idempotent requests with exponential backoff and jitter. A POST
//!   that may have succeeded is never re-sent blindly; the caller reconciles instead.
//! - Anything else is final.

use std::time::Duration;

/// The `x-ratelimit-*` headers of one response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix seconds when the window resets.
    pub reset: Option<u64>,
    pub resource: Option<String>,
}

/// Warn when fewer requests than this remain in the window.
pub const LOW_REMAINING: u64 = 10;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

impl RateLimit {
    pub fn from_headers(headers: &[(String, String)]) -> RateLimit {
        let num = |name| header(headers, name).and_then(|v| v.parse().ok());
        RateLimit {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
            resource: header(headers, "x-ratelimit-resource").map(str::to_owned),
        }
    }

    pub fn is_low(&self) -> bool {
        self.remaining.is_some_and(|r| r < LOW_REMAINING)
    }
}

/// Retry settings; the defaults are what the CLI and the Action use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (5xx/timeouts on idempotent requests, rate limits).
    pub max_retries: u32,
    /// First backoff step; doubles each attempt.
    pub base_delay: Duration,
    /// The longest Nectr will wait for a rate limit to lift before giving up.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// What happened to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// A response arrived.
    Response {
        status: u16,
        headers: &'a [(String, String)],
        body: &'a str,
    },
    /// No response: connection failure or timeout.
    NoResponse,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The response is final (success or an error for the caller to report).
    Accept,
    /// Wait, then send the same request again.
    Retry { after: Duration, reason: String },
    /// Stop: retrying is unsafe or pointless. The reason is one readable line.
    GiveUp { reason: String },
}

/// Is this 403/429 a rate limit (as opposed to a permission problem)?
pub fn is_rate_limited(status: u16, headers: &[(String, String)], body: &str) -> bool {
    if status == 429 {
        return true;
    }
    if status != 403 {
        return false;
    }
    header(headers, "retry-after").is_some()
        || header(headers, "x-ratelimit-remaining") == Some("0")
        || body.to_ascii_lowercase().contains("rate limit")
}

fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = policy.base_delay.saturating_mul(1u32 << attempt.min(16));
    // Half fixed, half random: spreads retries of many clients without ever retrying at once.
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Decide what to do after attempt number `attempt` (0 for the first) of a request.
/// `idempotent` is true for GET/HEAD/PUT/DELETE and edits; false for creating POSTs.
/// `now` is Unix seconds; `jitter` is uniform in `[0, 1)`.
pub fn decide(
    policy: &RetryPolicy,
    idempotent: bool,
    attempt: u32,
    outcome: Outcome<'_>,
    now: u64,
    jitter: f64,
) -> Decision {
    let out_of_attempts = attempt >= policy.max_retries;
    match outcome {
        Outcome::Response {
            status,
            headers,
            body,
        } if is_rate_limited(status, headers, body) => {
            let limits = RateLimit::from_headers(headers);
            let (wait, why) = if let Some(secs) =
                header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok())
            {
                (Duration::from_secs(secs), format!("retry-after {secs} s"))
            } else if let (Some(0), Some(reset)) = (limits.remaining, limits.reset) {
                let secs = reset.saturating_sub(now) + 1;
                (
                    Duration::from_secs(secs),
                    format!("rate limit resets in {secs} s"),
                )
            } else {
                // A secondary limit without a hint: GitHub asks for at least a minute, but
                // we start lower and let the cap decide.
                (
                    backoff(policy, attempt + 2, jitter),
                    "secondary rate limit".to_owned(),
                )
            };
            if out_of_attempts {
                Decision::GiveUp {
                    reason: format!("GitHub rate limit ({why}) persisted after {attempt} retries"),
                }
            } else if wait > policy.max_wait {
                Decision::GiveUp {
                    reason: format!(
                        "GitHub rate limit: {why}, longer than the {} s Nectr waits",
                        policy.max_wait.as_secs()
                    ),
                }
            } else {
                Decision::Retry {
                    after: wait,
                    reason: why,
                }
            }
        }
        Outcome::Response { status, .. } if status >= 500 => {
            if !idempotent {
                Decision::GiveUp {
                    reason: format!(
                        "GitHub answered {status}; the write may or may not have happened, so it is not re-sent blindly"
                    ),
                }
            } else if out_of_attempts {
                Decision::GiveUp {
                    reason: format!("GitHub answered {status} after {attempt} retries"),
                }
            } else {
                Decision::Retry {
                    after: backoff(policy, attempt, jitter),
                    reason: format!("GitHub answered {status}"),
                }
            }
        }
        Outcome::Response { .. } => Decision::Accept,
        Outcome::NoResponse => {
            if !idempotent {
                Decision::GiveUp {
                    reason: "no response from GitHub; the write may or may not have happened, so it is not re-sent blindly".to_owned(),
                }
            } else if out_of_attempts {
                Decision::GiveUp {
                    reason: format!("no response from GitHub after {attempt} retries"),
                }
            } else {
                Decision::Retry {
                    after: backoff(policy, attempt, jitter),
                    reason: "no response from GitHub".to_owned(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resp<'a>(status: u16, headers: &'a [(String, String)], body: &'a str) -> Outcome<'a> {
        Outcome::Response {
            status,
            headers,
            body,
        }
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn reads_rate_limit_headers() {
        let headers = h(&[
            ("X-RateLimit-Limit", "5000"),
            ("x-ratelimit-remaining", "9"),
            ("x-ratelimit-reset", "1700000100"),
            ("x-ratelimit-resource", "core"),
        ]);
        let rl = RateLimit::from_headers(&headers);
        assert_eq!(rl.limit, Some(5000));
        assert_eq!(rl.remaining, Some(9));
        assert_eq!(rl.reset, Some(1_700_000_100));
        assert_eq!(rl.resource.as_deref(), Some("core"));
        assert!(rl.is_low());
        assert!(!RateLimit::default().is_low());
    }

    #[test]
    fn success_and_client_errors_are_final() {
        let p = RetryPolicy::default();
        for status in [200, 201, 204, 304, 401, 404, 406, 422] {
            assert_eq!(
                decide(&p, true, 0, resp(status, &[], ""), NOW, 0.5),
                Decision::Accept
            );
        }
        let not_rate = h(&[("x-ratelimit-remaining", "4000")]);
        let body = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(
            decide(&p, true, 0, resp(403, &not_rate, body), NOW, 0.5),
            Decision::Accept
        );
    }

    #[test]
    fn retry_after_is_honoured_even_for_posts() {
        let p = RetryPolicy::default();
        let headers = h(&[("Retry-After", "7")]);
        let d = decide(
            &p,
            false,
            0,
            resp(403, &headers, "secondary rate limit"),
            NOW,
            0.5,
        );
        assert!(
            matches!(d, Decision::Retry { after, .. } if after == Duration::from_secs(7)),
            "{d:?}"
        );
        let d = decide(&p, false, 0, resp(429, &headers, ""), NOW, 0.5);
        assert!(matches!(d, Decision::Retry { after, .. } if after == Duration::from_secs(7)));
    }

    #[test]
    fn exhausted_limit_waits_until_reset_within_the_cap() {
        let p = RetryPolicy::default();
        let headers = h(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(NOW + 20).to_string()),
        ]);
        let d = decide(&p, true, 0, resp(403, &headers, ""), NOW, 0.5);
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_secs(21),
                reason: "rate limit resets in 21 s".into()
            }
        );
        let far = h(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(NOW + 3600).to_string()),
        ]);
        let d = decide(&p, true, 0, resp(403, &far, ""), NOW, 0.5);
        assert!(
            matches!(&d, Decision::GiveUp { reason } if reason.contains("longer than the 60 s")),
            "{d:?}"
        );
    }

    #[test]
    fn secondary_limit_without_hint_backs_off() {
        let p = RetryPolicy::default();
        let d = decide(
            &p,
            true,
            0,
            resp(403, &[], "You have exceeded a secondary rate limit"),
            NOW,
            0.0,
        );
        assert!(
            matches!(d, Decision::Retry { after, .. } if after == Duration::from_secs(1)),
            "{d:?}"
        );
    }

    #[test]
    fn server_errors_retry_only_idempotent_requests_three_times() {
        let p = RetryPolicy::default();
        let mut waits = Vec::new();
        for attempt in 0..3 {
            match decide(&p, true, attempt, resp(502, &[], ""), NOW, 1.0) {
                Decision::Retry { after, .. } => waits.push(after),
                d => panic!("attempt {attempt}: {d:?}"),
            }
        }
        assert_eq!(waits, [500, 1000, 2000].map(Duration::from_millis));
        assert!(matches!(
            decide(&p, true, 3, resp(502, &[], ""), NOW, 1.0),
            Decision::GiveUp { .. }
        ));
        assert!(matches!(
            decide(&p, false, 0, resp(502, &[], ""), NOW, 1.0),
            Decision::GiveUp { .. }
        ));
        assert!(matches!(
            decide(&p, true, 0, Outcome::NoResponse, NOW, 0.0),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            decide(&p, false, 0, Outcome::NoResponse, NOW, 0.0),
            Decision::GiveUp { .. }
        ));
    }

    #[test]
    fn jitter_stays_within_half_to_full_backoff() {
        let p = RetryPolicy::default();
        for jitter in [0.0, 0.3, 0.999] {
            let Decision::Retry { after, .. } =
                decide(&p, true, 1, resp(500, &[], ""), NOW, jitter)
            else {
                panic!()
            };
            assert!(
                after >= Duration::from_millis(500) && after <= Duration::from_millis(1000),
                "{after:?}"
            );
        }
    }
}
