//! Subscriptions (tenants): creation with keys and the minted MCP client, lookup by
//! slug (cached briefly, it is on every request), and the `system` bootstrap.

use super::clients::{self, NewClient};
use super::local::{Drops, Front, Timed};
use super::{Actor, AdminError, Ctx, audit, keys, random};
use crate::domain::{
    AuthMethod, ClientSpec, GrantType, Scope, Slug, Subscription, SubscriptionId,
    SubscriptionSettings, TokenFormat,
};
use crate::store::{StoreError, TenantDb};
use crate::tokens::MasterKey;
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reserved subscription of the system administrators.
pub const SYSTEM: &str = "system";

const TENANT_TTL: Duration = Duration::from_secs(5);

/// How many subscriptions the per-instance caches (subscriptions, key rings, discovery
/// documents) keep at most, the least used leaving first: memory stays bounded however
/// many tenants exist, and a tenant that was evicted is read again on its next request.
pub const CACHED_TENANTS: u64 = 10_000;

/// Subscriptions by slug, cached for a few seconds per instance (the last one read is
/// kept beyond that, for routing while the database is away).
#[derive(Debug)]
pub struct TenantCache {
    by_slug: moka::sync::Cache<String, (Arc<Subscription>, Instant)>,
    /// Counts [`TenantCache::forget`]s, for the per-thread fronts.
    drops: Drops,
}

impl Default for TenantCache {
    fn default() -> Self {
        TenantCache {
            by_slug: moka::sync::Cache::new(CACHED_TENANTS),
            drops: Drops::default(),
        }
    }
}

impl TenantCache {
    pub(crate) fn forget(&self, slug: &str) {
        self.by_slug.invalidate(slug);
        self.drops.bump();
    }
}

thread_local! {
    /// This thread's front of the tenant cache (see [`super::local`]).
    static FRONT: RefCell<Front<Timed<Arc<Subscription>>>> = RefCell::default();
}

/// The subscription behind a URL slug.
pub async fn resolve(ctx: &Ctx, slug: &str) -> Result<Arc<Subscription>, StoreError> {
    let drops = ctx.tenants.drops.read();
    let (owner, key) = (ctx.owner.id(), [slug.as_bytes()]);
    if let Some(s) = FRONT.with_borrow(|front| front.fresh(owner, &key, TENANT_TTL, drops)) {
        return Ok(s);
    }
    // The front keeps its own copy: the `Arc` every worker shares would have its
    // reference count written by both cores on every request.
    let keep = |s: &Subscription, read_at: Instant| {
        let value = Arc::new(s.clone());
        let entry = Timed {
            value: Arc::clone(&value),
            read_at,
            drops,
        };
        FRONT.with_borrow_mut(|front| front.put(owner, &key, entry));
        value
    };
    let cached = match ctx.tenants.by_slug.get(slug) {
        Some((s, at)) if at.elapsed() < TENANT_TTL => return Ok(keep(&s, at)),
        other => other,
    };
    // Boxed: every tenant request awaits this function, almost always a cache hit.
    let sub = match Box::pin(ctx.store.subscriptions().by_slug(slug)).await {
        Ok(sub) => Arc::new(sub),
        // While the database is away the last known subscription still routes the
        // request: public metadata (discovery, JWKS) keeps answering, and everything
        // that needs the database fails with its own 503 further on.
        Err(StoreError::Unavailable(e)) => {
            return cached.map(|(s, _)| s).ok_or(StoreError::Unavailable(e));
        }
        Err(e) => return Err(e),
    };
    let at = Instant::now();
    ctx.tenants
        .by_slug
        .insert(slug.to_owned(), (Arc::clone(&sub), at));
    Ok(keep(&sub, at))
}

/// A created subscription and its AI client credentials (shown once).
#[derive(Debug)]
pub struct Created {
    /// The subscription.
    pub subscription: Subscription,
    /// The minted MCP client id.
    pub mcp_client_id: String,
    /// Its secret, returned once.
    pub mcp_client_secret: String,
}

/// The registration of a subscription's minted AI client (DESIGN.md "Clients").
fn mcp_client_spec() -> Result<ClientSpec, AdminError> {
    Ok(ClientSpec {
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ],
        scope: Scope::parse("mcp openid offline_access")?,
        auth_method: AuthMethod::ClientSecretBasic,
        access_token_format: TokenFormat::Jwt,
        access_token_signing_alg: "ES256".into(),
        id_token_signed_response_alg: "RS256".into(),
        introspection: false,
        audience: Vec::new(),
        allowed_resources: Vec::new(),
        skip_consent: false,
        jwks: None,
    })
}

fn database_url_aad(sub: &SubscriptionId) -> Vec<u8> {
    format!("database-url:{}", sub.0).into_bytes()
}

/// A dedicated database's URL sealed under the master key for the subscription row
/// (the AAD binds it to the subscription: a ciphertext copied to another row does not
/// open). The URL may carry a password: it is a secret like a connection's.
pub fn seal_database_url(
    ctx: &Ctx,
    sub: &SubscriptionId,
    url: &SecretString,
) -> Result<Vec<u8>, AdminError> {
    ctx.master_key
        .encrypt(url.expose_secret().as_bytes(), &database_url_aad(sub))
        .map_err(|e| AdminError::Internal(e.into()))
}

/// The URL sealed by [`seal_database_url`], or `None` if it does not open with this
/// master key.
pub fn open_database_url(key: &MasterKey, sub: &SubscriptionId, sealed: &[u8]) -> Option<String> {
    key.decrypt(sealed, &database_url_aad(sub))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// The database at `url`, checked, connected and migrated, ready to hold a
/// subscription's tenant data. Every refusal names `database_url` and never repeats the
/// URL (it may carry a password).
pub async fn prepare_dedicated(ctx: &Ctx, url: &SecretString) -> Result<TenantDb, AdminError> {
    let invalid = |m: &str| crate::domain::ValidationError::new("database_url", m);
    crate::store::routing::check_url(url.expose_secret()).map_err(invalid)?;
    let db = match ctx.store.open_dedicated(url.expose_secret()).await {
        Ok(db) => db,
        Err(e) => {
            // The driver's reason (refused, authentication failed, no such database)
            // helps the operator; it does not contain the URL.
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            tracing::warn!(error = %e, cause = cause.as_deref().unwrap_or(""), "a dedicated database could not be opened");
            return Err(invalid(
                "cannot connect to and migrate this database (see the server log for the reason)",
            )
            .into());
        }
    };
    if db.is_control_plane().await? {
        return Err(invalid(
            "names a database that holds an auth-server control plane (a system subscription), such as the shared database; a dedicated database must be its own",
        )
        .into());
    }
    Ok(db)
}

/// Create a subscription with its keys and its MCP client, in one transaction; with a
/// `database_url`, in its dedicated database (checked, migrated) while its subscription
/// row goes to the shared one.
///
/// With a dedicated database two transactions commit: the tenant's first, then the
/// subscription row. If the second fails, the first left unreachable rows under a
/// never-used id in the dedicated database; the reverse order could leave a
/// subscription without keys.
pub async fn create(
    ctx: &Ctx,
    slug: Slug,
    name: &str,
    database_url: Option<&SecretString>,
    actor: &Actor,
) -> Result<Created, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(
            crate::domain::ValidationError::new("name", "must be 1 to 200 characters").into(),
        );
    }
    let dedicated = match database_url {
        Some(url) => Some(prepare_dedicated(ctx, url).await?),
        None => None,
    };
    let now = ctx.now();
    let id = SubscriptionId(random::id());
    let sealed = database_url
        .map(|url| seal_database_url(ctx, &id, url))
        .transpose()?;
    let keys = keys::generate_initial(ctx, &id, now).await?;
    let control = ctx.store.begin_control().await?;
    let subscription = match control
        .subscriptions()
        .insert(&id, &slug, name, sealed.as_deref(), now)
        .await
    {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("slug")),
        other => other?,
    };
    let own = match &dedicated {
        Some(db) => Some(db.begin().await?),
        None => None,
    };
    let tx = own.as_ref().unwrap_or(&control);
    if own.is_some() {
        // The anchor row: the tenant tables' foreign keys point at it.
        match tx.subscriptions().insert(&id, &slug, name, None, now).await {
            Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("slug")),
            other => other?,
        };
    }
    keys::insert_initial(tx, &id, &keys).await?;
    let mcp = NewClient {
        client_id: None,
        secret: None,
        name: format!("{name} AI agents"),
        spec: mcp_client_spec()?,
        ai_access: true,
    };
    let (mcp_client, mcp_secret) = clients::insert(ctx, tx, &id, mcp, actor).await?;
    let mut after = serde_json::json!({"slug": slug.as_str(), "name": name});
    if dedicated.is_some() {
        // Never the URL: the audit log says only that there is one.
        after["dedicated_database"] = true.into();
    }
    audit::record(
        tx,
        &id,
        actor,
        "subscription.created",
        ("subscription", &id.0),
        audit::diff(&serde_json::json!({}), &after),
        now,
    )
    .await?;
    if let Some(own) = own {
        ctx.commit(own).await?;
    }
    ctx.commit(control).await?;
    // A lookup during the creation saw no row yet and may have remembered "shared".
    ctx.store.forget_route(&id);
    Ok(Created {
        subscription,
        mcp_client_id: mcp_client.client_id,
        mcp_client_secret: mcp_secret.unwrap_or_default(),
    })
}

/// Change a subscription's name and settings.
pub async fn update(
    ctx: &Ctx,
    sub: &Subscription,
    name: Option<String>,
    settings: Option<SubscriptionSettings>,
    actor: &Actor,
) -> Result<Subscription, AdminError> {
    let now = ctx.now();
    let name = name.unwrap_or_else(|| sub.name.clone());
    let settings = settings.unwrap_or_else(|| sub.settings.clone());
    // The audit event goes to the tenant's database; with a dedicated one its anchor row
    // follows too, and its transaction commits first (no change without its event).
    let own = if sub.dedicated_database {
        Some(ctx.begin(&sub.id).await?)
    } else {
        None
    };
    let control = ctx.store.begin_control().await?;
    control
        .subscriptions()
        .update(&sub.id, &name, &settings, now)
        .await?;
    let tx = own.as_ref().unwrap_or(&control);
    if own.is_some() {
        tx.subscriptions()
            .update(&sub.id, &name, &settings, now)
            .await?;
    }
    let before = serde_json::json!({"name": sub.name, "settings": sub.settings});
    let after = serde_json::json!({"name": name, "settings": settings});
    audit::record(
        tx,
        &sub.id,
        actor,
        "subscription.updated",
        ("subscription", &sub.id.0),
        audit::diff(&before, &after),
        now,
    )
    .await?;
    if let Some(own) = own {
        ctx.commit(own).await?;
    }
    ctx.commit(control).await?;
    ctx.tenants.forget(sub.slug.as_str());
    Ok(Subscription {
        name,
        settings,
        ..sub.clone()
    })
}

/// Delete a subscription and everything it owns. `system` cannot be deleted.
///
/// A dedicated database loses the subscription's rows first (its anchor row, and by
/// cascade every tenant row), then the shared database its subscription row; the
/// database itself stays (the operator drops it). If the dedicated database is away
/// nothing is deleted and the call fails with 503, to be retried.
pub async fn delete(ctx: &Ctx, sub: &Subscription) -> Result<(), AdminError> {
    if sub.slug.as_str() == SYSTEM {
        return Err(AdminError::Forbidden);
    }
    if sub.dedicated_database {
        let tx = ctx.begin(&sub.id).await?;
        match tx.subscriptions().delete(&sub.id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        ctx.commit(tx).await?;
    }
    ctx.store.subscriptions().delete(&sub.id).await?;
    ctx.store.forget_route(&sub.id);
    super::freshness::bump(ctx, &sub.id).await;
    ctx.tenants.forget(sub.slug.as_str());
    ctx.keyrings.invalidate(&sub.id);
    Ok(())
}

/// What the bootstrap did, for the start-up log.
#[derive(Debug)]
pub enum Bootstrap {
    /// `system` existed already.
    Existing,
    /// `system` was created; the admin secret came from the environment.
    CreatedWithConfiguredSecret,
    /// `system` was created with a generated secret written to this file.
    CreatedWithGeneratedSecret(std::path::PathBuf),
}

/// First start: create `system` with its keys and the bootstrap admin client.
pub async fn bootstrap_system(ctx: &Ctx) -> anyhow::Result<Bootstrap> {
    match ctx.store.subscriptions().by_slug(SYSTEM).await {
        Ok(_) => return Ok(Bootstrap::Existing),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    match create_system(ctx).await {
        // Replicas starting together on a fresh database all find no `system`; the
        // unique slug lets one create it, and the others take that one.
        Err(e) if matches!(e.downcast_ref(), Some(StoreError::Conflict { .. })) => {
            ctx.store.subscriptions().by_slug(SYSTEM).await?;
            Ok(Bootstrap::Existing)
        }
        created => created,
    }
}

async fn create_system(ctx: &Ctx) -> anyhow::Result<Bootstrap> {
    use secrecy::ExposeSecret;
    let (secret, generated) = match &ctx.settings.admin_client_secret {
        Some(s) => (s.expose_secret().to_owned(), false),
        None => (random::token(32), true),
    };
    let now = ctx.now();
    let id = SubscriptionId(random::id());
    let slug = Slug::parse(SYSTEM, "slug")?;
    let actor = Actor::default();
    let keys = keys::generate_initial(ctx, &id, now).await?;
    let tx = ctx.store.begin_control().await?;
    tx.subscriptions()
        .insert(&id, &slug, "System", None, now)
        .await?;
    keys::insert_initial(&tx, &id, &keys).await?;
    let spec = ClientSpec {
        grant_types: vec![GrantType::ClientCredentials],
        scope: Scope::parse("admin")?,
        audience: Vec::new(),
        ..mcp_client_spec()?
    };
    let admin = NewClient {
        client_id: Some(ctx.settings.admin_client_id.clone()),
        secret: Some(secret.clone()),
        name: "Bootstrap administrator".into(),
        spec,
        ai_access: false,
    };
    clients::insert(ctx, &tx, &id, admin, &actor).await?;
    audit::record(
        &tx,
        &id,
        &actor,
        "subscription.created",
        ("subscription", &id.0),
        None,
        now,
    )
    .await?;
    if generated {
        let path = ctx.settings.data_dir.join("admin-client-secret");
        write_secret_file(&path, &secret)?;
        ctx.commit(tx).await?;
        return Ok(Bootstrap::CreatedWithGeneratedSecret(path));
    }
    ctx.commit(tx).await?;
    Ok(Bootstrap::CreatedWithConfiguredSecret)
}

/// Write a secret to a file readable by the owner only (0600).
pub fn write_secret_file(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}
