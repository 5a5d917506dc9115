//! Access token validation, shared by introspection (RFC 7662), userinfo (OIDC Core
//! §5.3) and the admin API: signature and issuer (JWT) or stored hash (opaque), expiry,
//! and revocation (the token's `jti` and its grant family).

use super::local::Front;
use super::oauth::issue::profile_claims;
use super::{Ctx, FlowError, keys};
use crate::domain::{Client, Scope, Subscription};
use crate::store::StoreError;
use crate::tokens::{hash_token, jwt};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// Claims of a valid access token.
pub type Claims = Map<String, Value>;

/// A token that passed full validation, cached by (subscription, token hash) so that a
/// token introspected again skips signature verification and the revocation queries
/// while the subscription's state generation is unchanged (see [`super::freshness`]).
#[derive(Debug)]
pub struct Verified {
    /// Generation the verdict was reached under.
    pub generation: i64,
    /// Expiry, re-checked on every hit.
    pub exp: i64,
    /// The token's claims (plus `username` for user tokens), shared with every hit.
    pub claims: Arc<Claims>,
    /// The plain RFC 7662 answer, serialized by the first introspection that needs it:
    /// it depends on the claims only, and writing it again on every hit was a tenth of
    /// an introspection's instructions (docs/performance.md, session 12).
    plain: OnceLock<Bytes>,
}

/// The memory the verified-token cache may hold. Weighed in bytes rather than counted in
/// entries: a token's claims are a few hundred bytes or, with profile claims and long
/// scopes, many kilobytes, and a count alone would let the cache's size follow them.
pub const VERIFIED_CACHE_BYTES: u64 = 32 << 20;

/// The verified-token cache: at most [`VERIFIED_CACHE_BYTES`] of verdicts, each kept
/// for at most a minute (the generation check retires it sooner when state changes).
pub fn verified_cache() -> moka::sync::Cache<[u8; 32], Arc<Verified>> {
    moka::sync::Cache::builder()
        .max_capacity(VERIFIED_CACHE_BYTES)
        .weigher(|_, v: &Arc<Verified>| v.weight())
        .time_to_live(std::time::Duration::from_secs(60))
        .build()
}

thread_local! {
    /// This thread's front of the verified-token cache, by the same key.
    static FRONT: RefCell<Front<Arc<Verified>>> = RefCell::default();
}

impl Verified {
    /// A verdict reached under `generation`, its answers not yet written.
    pub(crate) fn new(generation: i64, exp: i64, claims: Arc<Claims>) -> Self {
        Verified {
            generation,
            exp,
            claims,
            plain: OnceLock::new(),
        }
    }

    /// The bytes this verdict holds once its plain answer is written, estimated: the
    /// claims as JSON twice (the parsed map and the answer), each member's map node and
    /// value, and the entry itself with its key and the cache's bookkeeping. The cache
    /// asks once, when the verdict is cached.
    pub fn weight(&self) -> u32 {
        /// A member's map node, its key's `String` and its `Value`, beside their text.
        const PER_MEMBER: usize = 96;
        /// The entry, its `Arc`s, its key and the cache's node for it.
        const PER_ENTRY: usize = 256;
        let text = super::weigh::json_len(&*self.claims);
        super::weigh::weight(2 * text + PER_MEMBER * self.claims.len() + PER_ENTRY)
    }

    /// A copy sharing no memory with `self`, for a thread's front: hits on it write
    /// reference counts that only that thread touches.
    fn own_copy(&self) -> Verified {
        Verified {
            generation: self.generation,
            exp: self.exp,
            claims: Arc::new((*self.claims).clone()),
            plain: match self.plain.get() {
                Some(answer) => OnceLock::from(Bytes::copy_from_slice(answer)),
                None => OnceLock::new(),
            },
        }
    }

    /// The JSON body of a plain introspection answer for this token.
    pub fn plain_answer(&self) -> Result<Bytes, serde_json::Error> {
        written_once(&self.plain, || {
            serde_json::to_vec(&Plain(&self.claims)).map(Bytes::from)
        })
    }
}

/// The bytes `cell` keeps, written by `write` on first use. Two first uses at once may
/// both write; one result is kept, and both are the same bytes.
pub fn written_once<E>(
    cell: &OnceLock<Bytes>,
    write: impl FnOnce() -> Result<Bytes, E>,
) -> Result<Bytes, E> {
    if let Some(kept) = cell.get() {
        return Ok(kept.clone());
    }
    let written = write()?;
    Ok(cell.get_or_init(|| written).clone())
}

/// The plain RFC 7662 answer of an active token, written from its claims.
pub struct Plain<'a>(pub &'a Claims);

impl serde::Serialize for Plain<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(member_count(self.0)))?;
        serialize_members(&mut map, self.0)?;
        map.end()
    }
}

/// The claims of `token` if it is an active access token of `tenant`, else `None`.
pub async fn validate_access_token(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    token: &str,
) -> Result<Option<Arc<Claims>>, FlowError> {
    Ok(verify(ctx, tenant, issuer, token)
        .await?
        .map(|v| Arc::clone(&v.claims)))
}

/// The verdict on `token` if it is an active access token of `tenant`, else `None`;
/// through the verified-token cache.
async fn verify(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    token: &str,
) -> Result<Option<Arc<Verified>>, FlowError> {
    if token.is_empty() || token.len() > 8192 {
        return Ok(None);
    }
    let now = ctx.now();
    // Read the generation before any check, so a revocation committed meanwhile either
    // shows in the checks below or moves the generation past the cached one.
    let generation = super::freshness::current(ctx, &tenant.id).await;
    let key = crate::tokens::digest_key(&[&tenant.id.0, token]);
    let owner = ctx.owner.id();
    if let Some(g) = generation {
        let kept = FRONT.with_borrow(|front| {
            front
                .get(owner, &[&key])
                .filter(|v| v.generation == g)
                .map(Arc::clone)
        });
        let hit = match kept {
            Some(hit) => Some(hit),
            // The front keeps this thread's own copy (see [`super::local`]).
            None => ctx
                .verified
                .get(&key)
                .filter(|v| v.generation == g)
                .map(|shared| {
                    let own = Arc::new(shared.own_copy());
                    FRONT.with_borrow_mut(|front| front.put(owner, &[&key], Arc::clone(&own)));
                    own
                }),
        };
        if let Some(hit) = hit {
            return Ok((hit.exp > now).then_some(hit));
        }
    }
    // Boxed: the full check's future (signature, revocation and user reads) is
    // kilobytes, and inline it would be copied with every cache hit's future.
    let Some(claims) = Box::pin(validate_uncached(ctx, tenant, issuer, token, now)).await? else {
        return Ok(None);
    };
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    // Without a generation (the store is away) the verdict serves this request only.
    let verified = Arc::new(Verified::new(
        generation.unwrap_or(0),
        exp,
        Arc::new(claims),
    ));
    if generation.is_some() {
        ctx.verified.insert(key, Arc::clone(&verified));
        FRONT.with_borrow_mut(|front| front.put(owner, &[&key], Arc::clone(&verified)));
    }
    Ok(Some(verified))
}

async fn validate_uncached(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<Option<Claims>, FlowError> {
    let mut claims = if token.bytes().filter(|b| *b == b'.').count() == 2 {
        let ring = keys::verifying_ring(ctx, &tenant.id, token).await?;
        match jwt::verify(&ring, token, "at+jwt", now, 0) {
            Ok(c) if c.get("iss").and_then(Value::as_str) == Some(issuer) => c,
            _ => return Ok(None),
        }
    } else {
        match ctx
            .db(&tenant.id)
            .await?
            .repos()
            .tokens()
            .opaque(&tenant.id, &hash_token(token))
            .await
        {
            Ok(row) if row.expires_at > now => match row.claims {
                Value::Object(m) => m,
                _ => return Ok(None),
            },
            Ok(_) | Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    let db = ctx.db(&tenant.id).await?;
    let tokens = db.repos().tokens();
    if let Some(jti) = claims.get("jti").and_then(Value::as_str)
        && tokens.is_jti_revoked(&tenant.id, jti).await?
    {
        return Ok(None);
    }
    if let Some(gid) = claims.get("gid").and_then(Value::as_str)
        && tokens.is_family_revoked(&tenant.id, gid).await?
    {
        return Ok(None);
    }
    // A token outlives neither its client nor (for user tokens) its user.
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if super::clients::lookup(ctx, &tenant.id, &client_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    if claims.contains_key("gid") {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match ctx
            .db(&tenant.id)
            .await?
            .repos()
            .users()
            .get(&tenant.id, &sub)
            .await
        {
            Ok(u) if !u.disabled => {
                claims.insert("username".into(), u.username.into());
            }
            Ok(_) | Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(claims))
}

fn audience_of(claims: &Claims) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `caller` may learn about a token with these claims. A resource server that
/// declares no audience of its own is a tenant-wide introspector; one that does sees
/// only tokens addressed to it (RFC 9700 §4.10.2), and every client sees its own.
fn caller_may_see(caller: &Client, claims: &Claims) -> bool {
    if claims.get("client_id").and_then(Value::as_str) == Some(caller.client_id.as_str()) {
        return true;
    }
    let own: Vec<&String> = caller
        .spec
        .audience
        .iter()
        .chain(caller.spec.allowed_resources.iter())
        .collect();
    if own.is_empty() {
        return true;
    }
    let aud = audience_of(claims);
    aud.iter()
        .any(|a| a == &caller.client_id || own.contains(&a))
}

/// The verdict on `token` when it is active and `caller` may learn about it.
pub async fn active_claims(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    caller: &Client,
    token: &str,
) -> Result<Option<Arc<Verified>>, FlowError> {
    Ok(verify(ctx, tenant, issuer, token)
        .await?
        .filter(|v| caller_may_see(caller, &v.claims)))
}

/// The claims an introspection answer repeats from the token (RFC 7662 §2.2 plus
/// `sub_tenant`, `act` and the authentication context).
const MEMBERS: [&str; 15] = [
    "scope",
    "client_id",
    "username",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sub_tenant",
    "act",
    "auth_time",
    "amr",
    "acr",
];

/// Write the RFC 7662 members of an active token into `map`, straight from its shared
/// claims (no per-request copy of them: introspection is the hottest path).
pub fn serialize_members<M: serde::ser::SerializeMap>(
    map: &mut M,
    claims: &Claims,
) -> Result<(), M::Error> {
    map.serialize_entry("active", &true)?;
    map.serialize_entry("token_type", "Bearer")?;
    for k in MEMBERS {
        if let Some(v) = claims.get(k) {
            map.serialize_entry(k, v)?;
        }
    }
    Ok(())
}

/// The number of members [`serialize_members`] writes.
pub fn member_count(claims: &Claims) -> usize {
    2 + MEMBERS.iter().filter(|k| claims.contains_key(**k)).count()
}

/// OIDC userinfo for a bearer token: needs `openid` and a user.
pub async fn userinfo(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    token: &str,
) -> Result<Value, FlowError> {
    let claims = validate_access_token(ctx, tenant, issuer, token)
        .await?
        .ok_or(FlowError::InvalidToken)?;
    let scope = Scope::parse(claims.get("scope").and_then(Value::as_str).unwrap_or(""))
        .map_err(|_| FlowError::InvalidToken)?;
    if !scope.contains("openid") || !claims.contains_key("gid") {
        return Err(FlowError::InsufficientScope);
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(FlowError::InvalidToken)?;
    let user = match ctx
        .db(&tenant.id)
        .await?
        .repos()
        .users()
        .get(&tenant.id, sub)
        .await
    {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(StoreError::NotFound) => return Err(FlowError::InvalidToken),
        Err(e) => return Err(e.into()),
    };
    let mut out = profile_claims(&user, &scope);
    out.insert("sub".into(), user.id.into());
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Arc<Claims> {
        match v {
            Value::Object(m) => Arc::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_threads_copy_of_a_verdict_says_the_same_and_shares_nothing() {
        let shared = Verified::new(7, 2_000, claims(json!({"sub": "u1", "client_id": "c1"})));
        let unwritten = shared.own_copy();
        let written = shared.plain_answer().unwrap();
        let copy = shared.own_copy();
        for c in [&unwritten, &copy] {
            assert_eq!((c.generation, c.exp), (7, 2_000));
            assert_eq!(*c.claims, *shared.claims);
            assert!(!Arc::ptr_eq(&c.claims, &shared.claims));
            assert_eq!(c.plain_answer().unwrap(), written);
        }
        // The answer's bytes are the copy's own (a shared `Bytes` shares its count).
        let own = copy.plain.get().unwrap();
        assert_ne!(own.as_ptr(), written.as_ptr());
        assert!(
            unwritten.plain.get().is_some(),
            "written by its own first use"
        );
    }

    #[test]
    fn the_verified_cache_holds_verdicts_by_their_bytes_not_their_count() {
        let verdict = |i: u32, profile: &str| {
            Arc::new(Verified::new(
                1,
                2_000,
                claims(json!({"sub": format!("u{i}"), "client_id": "c1", "name": profile})),
            ))
        };
        let small = verdict(0, "Al");
        let large = verdict(0, &"x".repeat(64 * 1024));
        // The claims' text counts twice (the map and the written answer).
        assert!(small.weight() < 1_024, "{}", small.weight());
        assert!(large.weight() > 2 * 64 * 1_024, "{}", large.weight());

        let cache = verified_cache();
        let key = |i: u32| crate::tokens::digest_key(&[&i.to_string()]);
        for i in 0..600 {
            cache.insert(key(i), verdict(i, &"x".repeat(64 * 1024)));
        }
        cache.run_pending_tasks();
        assert!(cache.weighted_size() <= VERIFIED_CACHE_BYTES);
        // 600 verdicts of 128 KiB would be 75 MiB; the budget keeps about 250.
        let kept = cache.entry_count();
        assert!((100..=256).contains(&kept), "{kept} large verdicts kept");
        // Small verdicts still fit by the tens of thousands.
        let cache = verified_cache();
        for i in 0..20_000 {
            cache.insert(key(i), verdict(i, "Al"));
        }
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 20_000);
    }

    #[test]
    fn the_kept_plain_answer_is_the_rfc_7662_members_written_once() {
        let v = Verified::new(
            7,
            2_000,
            claims(json!({
                "sub": "u1", "client_id": "c1", "scope": "read", "exp": 2_000, "iat": 1_000,
                "aud": ["api"], "iss": "https://issuer/t/acme", "jti": "j1",
                "gid": "family", "username": "alice", "sub_tenant": "acme", "amr": ["pwd"]
            })),
        );
        let first = v.plain_answer().unwrap();
        let answer: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(
            answer,
            json!({
                "active": true, "token_type": "Bearer", "sub": "u1", "client_id": "c1",
                "scope": "read", "exp": 2_000, "iat": 1_000, "aud": ["api"],
                "iss": "https://issuer/t/acme", "jti": "j1", "username": "alice",
                "sub_tenant": "acme", "amr": ["pwd"]
            }),
            "the members of RFC 7662 and ours, and nothing internal such as gid"
        );
        // Written once: a second answer shares the first one's bytes.
        let second = v.plain_answer().unwrap();
        assert_eq!(first.as_ptr(), second.as_ptr());
        // Another token's verdict keeps its own answer.
        let other = Verified::new(7, 2_000, claims(json!({"sub": "u2", "client_id": "c1"})));
        let other: Value = serde_json::from_slice(&other.plain_answer().unwrap()).unwrap();
        assert_eq!(
            other,
            json!({"active": true, "token_type": "Bearer", "sub": "u2", "client_id": "c1"})
        );
    }

    #[test]
    fn every_answer_body_is_what_the_answer_serializes_to() {
        use crate::service::acl::introspection::Answer;
        let inactive = Answer::Inactive.body().unwrap();
        assert_eq!(&inactive[..], br#"{"active":false}"#);
        assert_eq!(serde_json::to_vec(&Answer::Inactive).unwrap(), inactive);
        let plain = Answer::Plain(Arc::new(Verified::new(
            1,
            9,
            claims(json!({"sub": "u1", "client_id": "c1", "act": {"sub": "admin"}})),
        )));
        assert_eq!(serde_json::to_vec(&plain).unwrap(), plain.body().unwrap());
    }

    /// The size of the future an `Option` of it would hold (the future is never made).
    fn future_size<F: std::future::Future>(_: Option<F>) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every introspection and token request moves these futures (actix boxes the
    /// handler's); a database read's future is kilobytes, so a cold path left inline
    /// copies them on every hit (docs/performance.md, session 9: 16 KiB before boxing the
    /// cold paths; session 12 for token issuance).
    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn the_hot_paths_futures_stay_small() {
        let c: Option<&Ctx> = None;
        let sizes = [
            (
                "validate_access_token",
                future_size(c.map(|c| {
                    validate_access_token(c, unreachable!(), unreachable!(), unreachable!())
                })),
            ),
            (
                "acl::introspection::introspect",
                future_size(c.map(|c| {
                    crate::service::acl::introspection::introspect(
                        c,
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                        None,
                    )
                })),
            ),
            (
                "clients::authenticate",
                future_size(c.map(|c| {
                    crate::service::clients::authenticate(
                        c,
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                    )
                })),
            ),
            (
                "tenants::resolve",
                future_size(c.map(|c| crate::service::tenants::resolve(c, unreachable!()))),
            ),
            // The ACL facts: a cache hit does not carry the database load's future.
            (
                "acl::facts::user_workspace",
                future_size(c.map(|c| {
                    crate::service::acl::facts::user_workspace(
                        c,
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                    )
                })),
            ),
            // JWKS: making lazy keys and re-reading the ring are boxed.
            (
                "keys::published_ring",
                future_size(c.map(|c| crate::service::keys::published_ring(c, unreachable!()))),
            ),
            (
                "keys::verifying_ring",
                future_size(c.map(|c| {
                    crate::service::keys::verifying_ring(c, unreachable!(), unreachable!())
                })),
            ),
            // Token issuance: the opaque insert and the metadata-client record are boxed,
            // so a JWT's issue does not carry (and move) their database futures.
            (
                "oauth::client_credentials::issue",
                future_size(c.map(|c| {
                    crate::service::oauth::client_credentials::issue(
                        c,
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                        unreachable!(),
                    )
                })),
            ),
        ];
        for (name, size) in sizes {
            assert!(size <= 1024, "{name}'s future is {size} bytes");
        }
    }
}
