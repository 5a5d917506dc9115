//! Brute-force defence for password logins and the per-address request limiter
//! (SECURITY.md §3, §5.2 "login rate limiter / lockout counters").
//!
//! Window counters live in the ephemeral store, so every instance sharing Redis counts
//! the same attempts; the consecutive-failure count and the hard lock live in the
//! database (`login_locks`), so neither a restart nor a flushed Redis lifts a lock. When
//! the ephemeral store fails, counting continues in a per-instance in-memory store
//! ([`Counters`]): degraded (each instance counts alone, against its share of every limit,
//! limit/N for `AUTH_INSTANCES` = N) but never unlimited. After a
//! failure the shared store is bypassed for a few seconds, so that counting does not
//! wait on a dead Redis at every step. The policy itself is pure, in [`policy`].
//!
//! A password attempt is *charged* to the window before the password is checked, so N
//! parallel attempts cannot all slip in before the first failure is recorded; an attempt
//! that turns out not to be a guess (directory down, store error) is refunded.

pub mod policy;
pub mod tally;

use super::{Actor, Ctx, FlowError, audit};
use crate::cache::{CacheError, Ephemeral, MemoryStore};
use crate::domain::{SubscriptionId, Username};
use crate::store::login_locks::LoginLock;
use policy::{Gate, State};
use std::net::IpAddr;
use std::time::Duration;

/// How long the shared store is bypassed after it failed. A call to a Redis that is away
/// costs its reconnection attempts (about a second), and one login touches the counters
/// a dozen times: without the bypass each login would take the whole request deadline and
/// the fallback would protect nothing but a server that no longer answers.
const BYPASS_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The ephemeral counters with their in-process fallback.
#[derive(Debug, Default)]
pub struct Counters {
    fallback: MemoryStore,
    /// Per-address requests added up on this instance before they are sent.
    tallies: tally::Tallies,
    /// Until when the shared store is bypassed. Real (monotonic) time, not the injected
    /// clock: this is an I/O back-off like the connection timeouts, not a protocol rule.
    bypass_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Counters {
    /// Whether the shared store failed within [`BYPASS_AFTER_FAILURE`].
    fn bypassed(&self) -> bool {
        let until = self.bypass_until.lock().map(|g| *g).unwrap_or(None);
        until.is_some_and(|t| std::time::Instant::now() < t)
    }

    /// Count on this instance alone for a while; logged once per bypass, not per call.
    fn shared_failed(&self, e: &CacheError) {
        tracing::warn!(error = %e, "ephemeral store failed: rate-limit counters fall back to this instance");
        if let Ok(mut g) = self.bypass_until.lock() {
            *g = Some(std::time::Instant::now() + BYPASS_AFTER_FAILURE);
        }
    }

    async fn incr(&self, ctx: &Ctx, key: &str, ttl: Duration) -> Result<Counted, FlowError> {
        self.incr_by(ctx, key, 1, ttl).await
    }

    async fn incr_by(
        &self,
        ctx: &Ctx,
        key: &str,
        by: i64,
        ttl: Duration,
    ) -> Result<Counted, FlowError> {
        if !self.bypassed() {
            match ctx.cache.incr_by(key, by, ttl).await {
                Ok(value) => return Ok(Counted::shared(value)),
                Err(e) => self.shared_failed(&e),
            }
        }
        let value = self.fallback.incr_by(key, by, ttl).await?;
        Ok(Counted { value, local: true })
    }

    async fn get_i64(&self, ctx: &Ctx, key: &str) -> Result<i64, FlowError> {
        Ok(self.get_counted(ctx, key).await?.value)
    }

    async fn get_counted(&self, ctx: &Ctx, key: &str) -> Result<Counted, FlowError> {
        let shared = match self.bypassed() {
            true => None,
            false => match ctx.cache.get(key).await {
                Ok(v) => Some(v),
                Err(e) => {
                    self.shared_failed(&e);
                    None
                }
            },
        };
        let local = shared.is_none();
        let v = match shared {
            Some(v) => v,
            None => self.fallback.get(key).await?,
        };
        let value = v
            .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok())
            .unwrap_or(0);
        Ok(Counted { value, local })
    }

    async fn put_i64(&self, ctx: &Ctx, key: &str, v: i64, ttl: Duration) -> Result<(), FlowError> {
        let text = v.to_string();
        if !self.bypassed() {
            match ctx.cache.put(key, text.as_bytes(), ttl).await {
                Ok(()) => return Ok(()),
                Err(e) => self.shared_failed(&e),
            }
        }
        self.fallback.put(key, text.as_bytes(), ttl).await?;
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx, key: &str) -> Result<(), FlowError> {
        // Both stores: a value written during an outage must not outlive the recovery.
        let _ = self.fallback.delete(key).await;
        if !self.bypassed()
            && let Err(e) = ctx.cache.delete(key).await
        {
            self.shared_failed(&e);
        }
        Ok(())
    }
}

/// A counter's value, and whether this instance kept it alone because the shared store
/// was unreachable.
#[derive(Debug, Clone, Copy)]
struct Counted {
    value: i64,
    local: bool,
}

impl Counted {
    fn shared(value: i64) -> Counted {
        Counted {
            value,
            local: false,
        }
    }

    /// The value on the scale of the shared `limit`: a count this instance kept alone is
    /// weighed so that reaching limit/N here is reaching the limit (`AUTH_INSTANCES` = N;
    /// SECURITY.md §5.2: "per-instance in-memory limiter at limit/N").
    fn against(self, limit: i64, ctx: &Ctx) -> i64 {
        match self.local {
            true => policy::on_shared_scale(self.value, limit, ctx.settings.instances),
            false => self.value,
        }
    }
}

/// Keys of one login name; the name is hashed so that the store holds no user names.
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(sub: &SubscriptionId, name: &str) -> Keys {
        Keys {
            prefix: format!("lgn:{}:{}", sub.0, crate::tokens::hash_token(name)),
        }
    }
    fn charged(&self, bucket: i64) -> String {
        format!("{}:c:{bucket}", self.prefix)
    }
    fn refunded(&self, bucket: i64) -> String {
        format!("{}:r:{bucket}", self.prefix)
    }
    fn last(&self) -> String {
        format!("{}:last", self.prefix)
    }
    fn lock(&self) -> String {
        format!("{}:lock", self.prefix)
    }
}

/// Memory bound of the window keys (the policy reads times, not TTLs).
const KEY_TTL: Duration =
    Duration::from_secs((policy::WINDOW + policy::TEMP_LOCK_SECS + 2 * policy::BUCKET) as u64);

/// An admitted password attempt, to be settled with its outcome.
#[derive(Debug)]
pub struct Attempt {
    name: String,
    bucket: i64,
    /// Whether the durable store holds failures to forget on success.
    durable: bool,
}

/// How a checked attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The password was right (whatever the account state): the counters restart.
    Verified,
    /// A wrong password or unknown name: one more failure.
    Failed,
    /// Nothing was learnt (directory or store down): refund the charge.
    Unchecked,
}

/// The one name a login counts against: the normalised username (NFKC, lower case), or
/// for a name that does not parse, the same normalisation without the checks.
pub fn counted_name(login: &str) -> String {
    Username::parse(login).map_or_else(
        |_| Username::normalise(login).chars().take(256).collect(),
        |u| u.as_str().to_owned(),
    )
}

/// Failures in the window, on the scale of the shared limit: counts kept on this
/// instance during a Redis outage are weighed by the number of instances.
async fn window_failures(ctx: &Ctx, keys: &Keys, now: i64) -> Result<i64, FlowError> {
    let (mut shared, mut local) = (0, 0);
    for b in policy::window_buckets(now) {
        for (key, sign) in [(keys.charged(b), 1), (keys.refunded(b), -1)] {
            let c = ctx.throttle.get_counted(ctx, &key).await?;
            match c.local {
                true => local += sign * c.value,
                false => shared += sign * c.value,
            }
        }
    }
    let local = Counted {
        value: local.max(0),
        local: true,
    };
    Ok((shared.max(0) + local.against(policy::TEMP_LOCK_AFTER, ctx)).max(0))
}

async fn clear_window(ctx: &Ctx, keys: &Keys, now: i64) -> Result<(), FlowError> {
    for b in policy::window_buckets(now) {
        ctx.throttle.delete(ctx, &keys.charged(b)).await?;
        ctx.throttle.delete(ctx, &keys.refunded(b)).await?;
    }
    ctx.throttle.delete(ctx, &keys.last()).await
}

/// Decide whether a password for `login` may be checked now. `Ok(Err(gate))` is a
/// refusal: answer it like a wrong password (the caller spends the dummy hash).
pub async fn admit(
    ctx: &Ctx,
    sub: &SubscriptionId,
    login: &str,
) -> Result<Result<Attempt, Gate>, FlowError> {
    let durable = ctx
        .db(sub)
        .await?
        .repos()
        .login_locks()
        .get(sub, &counted_name(login))
        .await?;
    admit_with(ctx, sub, login, durable).await
}

/// [`admit`] with the name's durable failure record already read (`durable`, under
/// [`counted_name`]), as a local sign-in reads it together with the user.
pub async fn admit_with(
    ctx: &Ctx,
    sub: &SubscriptionId,
    login: &str,
    durable: Option<LoginLock>,
) -> Result<Result<Attempt, Gate>, FlowError> {
    let name = counted_name(login);
    let keys = Keys::new(sub, &name);
    let now = ctx.now();
    let state = State {
        recent_failures: window_failures(ctx, &keys, now).await?,
        last_failure_at: Some(ctx.throttle.get_i64(ctx, &keys.last()).await?).filter(|t| *t > 0),
        locked_until: Some(ctx.throttle.get_i64(ctx, &keys.lock()).await?).filter(|t| *t > 0),
        hard_locked: durable.as_ref().is_some_and(|l| l.locked_at.is_some()),
    };
    let gate = policy::gate(&state, now);
    if gate != Gate::Open {
        return Ok(Err(gate));
    }
    let bucket = now.div_euclid(policy::BUCKET);
    ctx.throttle
        .incr(ctx, &keys.charged(bucket), KEY_TTL)
        .await?;
    let charged = window_failures(ctx, &keys, now).await?;
    if !policy::within_budget(charged) {
        ctx.throttle
            .incr(ctx, &keys.refunded(bucket), KEY_TTL)
            .await?;
        return Ok(Err(Gate::Locked(now + policy::TEMP_LOCK_SECS)));
    }
    Ok(Ok(Attempt {
        name,
        bucket,
        durable: durable.is_some(),
    }))
}

/// Record the outcome of an admitted attempt; lock and audit when a limit is reached.
/// Counter failures are logged, not raised: the login answer is already decided.
pub async fn settle(
    ctx: &Ctx,
    sub: &SubscriptionId,
    attempt: Attempt,
    outcome: Outcome,
    actor: &Actor,
) {
    if let Err(e) = settle_inner(ctx, sub, &attempt, outcome, actor).await {
        tracing::error!(error = %e, "could not record a login attempt");
    }
}

async fn settle_inner(
    ctx: &Ctx,
    sub: &SubscriptionId,
    attempt: &Attempt,
    outcome: Outcome,
    actor: &Actor,
) -> Result<(), FlowError> {
    let keys = Keys::new(sub, &attempt.name);
    let now = ctx.now();
    match outcome {
        Outcome::Unchecked => {
            ctx.throttle
                .incr(ctx, &keys.refunded(attempt.bucket), KEY_TTL)
                .await?;
        }
        Outcome::Verified => {
            clear_window(ctx, &keys, now).await?;
            // Most logins have no failures on record: no write for them.
            if attempt.durable {
                ctx.db(sub)
                    .await?
                    .repos()
                    .login_locks()
                    .clear(sub, &attempt.name)
                    .await?;
            }
        }
        Outcome::Failed => {
            ctx.throttle
                .put_i64(ctx, &keys.last(), now, KEY_TTL)
                .await?;
            let recent = window_failures(ctx, &keys, now).await?;
            if let Some(until) = policy::temporary_lock(recent, now) {
                ctx.throttle
                    .put_i64(ctx, &keys.lock(), until, KEY_TTL)
                    .await?;
                // The lock's end starts a clean window.
                clear_window(ctx, &keys, now).await?;
                audit::security(
                    ctx,
                    sub,
                    actor,
                    "login.locked",
                    ("username", &attempt.name),
                    serde_json::json!({"failures": recent, "seconds": policy::TEMP_LOCK_SECS}),
                )
                .await;
            }
            let db = ctx.db(sub).await?;
            let repo = db.repos();
            let consecutive = repo
                .login_locks()
                .record_failure(sub, &attempt.name, now)
                .await?;
            if policy::hard_lock(consecutive) {
                repo.login_locks().lock(sub, &attempt.name, now).await?;
                if consecutive == policy::HARD_LOCK_AFTER {
                    audit::security(
                        ctx,
                        sub,
                        actor,
                        "login.hard_locked",
                        ("username", &attempt.name),
                        serde_json::json!({"failures": consecutive}),
                    )
                    .await;
                }
            }
        }
    }
    Ok(())
}

/// What an admin sees of a login name's failures.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LockStatus {
    /// The normalised login name the counters are kept for.
    pub username: String,
    /// Locked until an admin unlocks (100 consecutive failures).
    pub hard_locked: bool,
    /// When the hard lock was set (Unix seconds).
    pub locked_at: Option<i64>,
    /// End of the temporary lock (Unix seconds), while one is in force.
    pub locked_until: Option<i64>,
    /// Consecutive failures since the last success or unlock.
    pub consecutive_failures: i64,
}

/// The lock state of a login name.
pub async fn status(ctx: &Ctx, sub: &SubscriptionId, login: &str) -> Result<LockStatus, FlowError> {
    let name = counted_name(login);
    let keys = Keys::new(sub, &name);
    let durable = ctx
        .db(sub)
        .await?
        .repos()
        .login_locks()
        .get(sub, &name)
        .await?;
    let until = ctx.throttle.get_i64(ctx, &keys.lock()).await?;
    Ok(LockStatus {
        hard_locked: durable.as_ref().is_some_and(|l| l.locked_at.is_some()),
        locked_at: durable.as_ref().and_then(|l| l.locked_at),
        locked_until: (until > ctx.now()).then_some(until),
        consecutive_failures: durable.map_or(0, |l| l.failures),
        username: name,
    })
}

/// Every hard-locked login name of the subscription.
pub async fn hard_locked(ctx: &Ctx, sub: &SubscriptionId) -> Result<Vec<LockStatus>, FlowError> {
    Ok(ctx
        .db(sub)
        .await?
        .repos()
        .login_locks()
        .locked(sub)
        .await?
        .into_iter()
        .map(|l| LockStatus {
            username: l.username,
            hard_locked: true,
            locked_at: l.locked_at,
            locked_until: None,
            consecutive_failures: l.failures,
        })
        .collect())
}

/// Lift every lock of a login name and forget its failures (admin unlock), audited as
/// `login.unlocked`; `true` when the name was locked or had failures.
pub async fn unlock(
    ctx: &Ctx,
    sub: &SubscriptionId,
    login: &str,
    actor: &Actor,
) -> Result<bool, FlowError> {
    let before = status(ctx, sub, login).await?;
    let keys = Keys::new(sub, &before.username);
    clear_window(ctx, &keys, ctx.now()).await?;
    ctx.throttle.delete(ctx, &keys.lock()).await?;
    let had = ctx
        .db(sub)
        .await?
        .repos()
        .login_locks()
        .clear(sub, &before.username)
        .await?
        || before.locked_until.is_some();
    if !had {
        return Ok(false);
    }
    audit::security(
        ctx,
        sub,
        actor,
        "login.unlocked",
        ("username", &before.username),
        serde_json::json!({
            "hard_locked": before.hard_locked,
            "temporarily_locked": before.locked_until.is_some(),
            "failures": before.consecutive_failures,
        }),
    )
    .await;
    Ok(true)
}

/// Which per-address budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpClass {
    /// Token, introspection and revocation.
    Protocol,
    /// Login and second-factor form posts.
    Login,
}

impl IpClass {
    fn tag(self) -> &'static str {
        match self {
            IpClass::Protocol => "p",
            IpClass::Login => "l",
        }
    }

    /// Requests per minute allowed by the settings (0: no limit).
    pub fn limit(self, ctx: &Ctx) -> u32 {
        match self {
            IpClass::Protocol => ctx.settings.ip_rate_limit,
            IpClass::Login => ctx.settings.login_ip_rate_limit,
        }
    }
}

/// Count one request of `ip` in a fixed one-minute window; `Err(seconds)` when over the
/// limit, with the time until the window ends (for `Retry-After`). Requests are added up
/// on this instance and sent in batches ([`tally`]).
pub async fn admit_ip(ctx: &Ctx, class: IpClass, ip: IpAddr) -> Result<(), i64> {
    let limit = class.limit(ctx);
    if limit == 0 {
        return Ok(());
    }
    let now = ctx.now();
    let minute = now.div_euclid(60);
    let retry = 60 - now.rem_euclid(60);
    let limit = i64::from(limit);
    let batch = match class {
        IpClass::Protocol => tally::batch_for(limit),
        // Login posts are few and their limit small: counted one by one.
        IpClass::Login => 1,
    };
    let by = match ctx.throttle.tallies.note(class, ip, minute, limit, batch) {
        tally::Step::Admit => return Ok(()),
        tally::Step::Refuse => return Err(retry),
        tally::Step::Send(n) => n,
    };
    let key = format!("ipl:{}:{ip}:{minute}", class.tag());
    match ctx
        .throttle
        .incr_by(ctx, &key, by, Duration::from_secs(120))
        .await
    {
        Ok(n) => {
            let count = n.against(limit, ctx);
            let tallies = &ctx.throttle.tallies;
            tallies.answered(class, ip, minute, count, !n.local);
            if count > limit { Err(retry) } else { Ok(()) }
        }
        // Both stores failed (the in-process one cannot, short of a poisoned lock):
        // refuse rather than run unlimited.
        Err(_) => Err(60),
    }
}
