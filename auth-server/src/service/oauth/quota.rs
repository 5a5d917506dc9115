//! Per-client token quotas for AI (MCP) clients: an issuance rate limit per minute and a
//! cap on active access tokens. Counters live in the [`Ephemeral`](crate::cache::Ephemeral)
//! store so that every instance sees the same numbers.
//!
//! "Active" is approximated by "issued within the last access-token lifetime", counted
//! in ten buckets: an agent stuck in a loop that mints tokens it never uses cannot
//! exhaust the server, and a well-behaved one that reuses its token until expiry never
//! gets near the cap.

use crate::domain::{Client, Subscription};
use crate::service::{Ctx, FlowError};
use std::time::Duration;

/// The limits that apply to one client (from the subscription's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Token requests per minute.
    pub per_minute: u32,
    /// Access tokens issued within one access-token lifetime.
    pub max_active: u32,
}

/// Which limit a request hit, with the seconds after which a retry can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within both limits.
    Admit,
    /// Too many requests in the current minute.
    RateLimited {
        /// Seconds until the minute ends.
        retry_after: u64,
    },
    /// Too many active tokens.
    TooManyActive {
        /// Seconds until the oldest bucket expires.
        retry_after: u64,
    },
}

/// Number of buckets the active-token window is split into.
const BUCKETS: i64 = 10;

/// Pure decision: `requests` in this minute (including this one), `active` tokens in
/// the window, at second `now`, with a bucket width of `bucket` seconds.
pub fn decide(limits: Limits, requests: i64, active: i64, now: i64, bucket: i64) -> Verdict {
    if requests > i64::from(limits.per_minute) {
        return Verdict::RateLimited {
            retry_after: u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60),
        };
    }
    if active >= i64::from(limits.max_active) {
        return Verdict::TooManyActive {
            retry_after: u64::try_from(bucket - now.rem_euclid(bucket)).unwrap_or(1),
        };
    }
    Verdict::Admit
}

fn limits(sub: &Subscription, client: &Client) -> Option<Limits> {
    client.ai_access.then_some(Limits {
        per_minute: sub.settings.mcp_tokens_per_minute,
        max_active: sub.settings.mcp_max_active_tokens,
    })
}

fn bucket_width(ctx: &Ctx) -> i64 {
    (i64::try_from(ctx.settings.access_token_ttl).unwrap_or(300) / BUCKETS).max(1)
}

fn key(kind: &str, sub: &Subscription, client: &Client, n: i64) -> String {
    format!("quota:{kind}:{}:{}:{n}", sub.id.0, client.client_id)
}

/// Count this token request and refuse it when an AI client is over its quota
/// (`slow_down`, HTTP 429 with `Retry-After`). Other clients are not limited here.
pub async fn admit(ctx: &Ctx, sub: &Subscription, client: &Client) -> Result<(), FlowError> {
    let Some(l) = limits(sub, client) else {
        return Ok(());
    };
    let now = ctx.now();
    let minute = now.div_euclid(60);
    let requests = ctx
        .cache
        .incr(&key("rate", sub, client, minute), Duration::from_secs(120))
        .await?;
    let width = bucket_width(ctx);
    let current = now.div_euclid(width);
    let mut active = 0;
    for b in (current - BUCKETS + 1)..=current {
        if let Some(v) = ctx.cache.get(&key("active", sub, client, b)).await? {
            active += std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
        }
    }
    match decide(l, requests, active, now, width) {
        Verdict::Admit => Ok(()),
        Verdict::RateLimited { retry_after } => Err(FlowError::SlowDown {
            retry_after,
            reason: format!(
                "token request rate limit reached ({} per minute for this client)",
                l.per_minute
            ),
        }),
        Verdict::TooManyActive { retry_after } => Err(FlowError::SlowDown {
            retry_after,
            reason: format!(
                "this client has {} active access tokens, its maximum; reuse a token until it expires",
                l.max_active
            ),
        }),
    }
}

/// Count an issued access token towards the client's active tokens.
pub async fn issued(ctx: &Ctx, sub: &Subscription, client: &Client) -> Result<(), FlowError> {
    if limits(sub, client).is_none() {
        return Ok(());
    }
    let width = bucket_width(ctx);
    let b = ctx.now().div_euclid(width);
    let ttl = u64::try_from(width * (BUCKETS + 1)).unwrap_or(3600);
    ctx.cache
        .incr(&key("active", sub, client, b), Duration::from_secs(ttl))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        per_minute: 3,
        max_active: 5,
    };

    #[test]
    fn within_both_limits_is_admitted() {
        assert_eq!(decide(L, 3, 4, 1000, 30), Verdict::Admit);
    }

    #[test]
    fn one_request_over_the_rate_waits_for_the_next_minute() {
        assert_eq!(
            decide(L, 4, 0, 1000, 30),
            Verdict::RateLimited { retry_after: 20 }
        );
    }

    #[test]
    fn the_cap_on_active_tokens_waits_for_the_oldest_bucket() {
        assert_eq!(
            decide(L, 1, 5, 1000, 30),
            Verdict::TooManyActive { retry_after: 20 }
        );
    }
}
