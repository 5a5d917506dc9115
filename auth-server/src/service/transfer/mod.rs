//! Moving one subscription between deployments (issue 8 point 5): `auth-server admin
//! subscription export` and `… import`.
//!
//! Two library steps that compose without a file (a move to a dedicated database
//! chains them directly):
//! - [`export_from`]: one consistent read of every row of the subscription on a given
//!   store, with the master-key secrets (signing keys, connection secrets, TOTP seeds)
//!   decrypted with this deployment's master key, into a [`Snapshot`];
//! - [`import_into`]: the snapshot written into a given store in one transaction, its
//!   secrets encrypted with this deployment's master key, then every cache of the
//!   subscription invalidated.
//!
//! Between deployments, [`Snapshot::seal`] and [`open`] turn a snapshot into the
//! passphrase-encrypted bundle file ([`bundle`]) and back; [`export_to_file`] and
//! [`import_from_file`] are the CLI's one call each.
//!
//! Ids are kept (subscription, users, clients, `kid`s, families): tokens, links, ACL
//! references, ciphertext AADs and the audit hash chain all name them, so a moved tenant
//! works unchanged as long as its issuer URL is the same (docs/operations.md).

pub mod bundle;
pub mod dedicated;

use super::{Actor, Ctx, audit, connections, freshness, keys, mfa, tenants};
use crate::domain::SubscriptionId;
use crate::store::transfer::{SecretColumn, TenantRows, knows_schema, schema_version};
use crate::store::{StoreError, TenantDb};
use bundle::BundleError;
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable holding the bundle passphrase (when no `--passphrase-file`).
pub const PASSPHRASE_ENV: &str = "AUTH_EXPORT_PASSPHRASE";

/// Why an export or import failed. Nothing was written to the target when an import
/// fails; messages never carry secret material.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// No such subscription to export.
    #[error("no subscription {0:?} on this deployment")]
    NoSuchSubscription(String),
    /// `system` is never moved: it is the deployment's own administration tenant.
    #[error("the system subscription belongs to its deployment and is never exported or imported")]
    System,
    /// The slug is taken on the target.
    #[error(
        "subscription {0:?} already exists on this deployment: delete it first or import elsewhere; nothing was imported"
    )]
    SlugExists(String),
    /// The subscription id is taken on the target (under another slug).
    #[error(
        "a subscription with the id {id} already exists on this deployment (slug {slug:?}): the bundle was probably imported here before; nothing was imported"
    )]
    IdExists {
        /// The id.
        id: String,
        /// The slug it has on the target.
        slug: String,
    },
    /// A row of the bundle has a primary key that exists on the target.
    #[error("the bundle collides with rows already on this deployment ({0}); nothing was imported")]
    Collision(String),
    /// The bundle was written by a server with a newer schema.
    #[error(
        "the bundle was written with schema {bundle}, unknown to this server (newest {ours}): upgrade this deployment first"
    )]
    NewerSchema {
        /// The bundle's schema.
        bundle: String,
        /// This server's newest migration.
        ours: String,
    },
    /// A stored secret does not decrypt with this deployment's master key (export).
    #[error(
        "the {what} of {id} cannot be decrypted with this deployment's master key (was AUTH_MASTER_KEY changed?); nothing was exported"
    )]
    MasterKey {
        /// Which secret.
        what: &'static str,
        /// Its row (kid, connection id, user id).
        id: String,
    },
    /// The bundle file or passphrase.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// No passphrase was given.
    #[error(
        "no passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE (at least {} characters)",
        bundle::MIN_PASSPHRASE_CHARS
    )]
    NoPassphrase,
    /// The export file exists already.
    #[error("{0} already exists: an export never overwrites a file")]
    Exists(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Rows that contradict each other (a stored or bundled value is damaged).
    #[error("inconsistent data: {0}")]
    Inconsistent(&'static str),
    /// The database is unreachable.
    #[error("the database is unavailable")]
    Unavailable,
    /// Unexpected.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for TransferError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => TransferError::Unavailable,
            StoreError::Conflict { constraint } => TransferError::Collision(constraint),
            StoreError::Corrupt(what) => TransferError::Inconsistent(what),
            other => TransferError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// One subscription's rows with their secrets in clear, between an export and an
/// import. `Debug` shows the slug and row counts only.
pub struct Snapshot {
    rows: TenantRows,
    summary: Summary,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("slug", &self.summary.slug)
            .field("rows", &self.summary.rows)
            .finish()
    }
}

/// The bundle's cleartext part: enough to know what a file holds without its
/// passphrase, nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Slug of the subscription.
    pub slug: String,
    /// Its id (kept on import).
    pub subscription_id: String,
    /// Display name.
    pub name: String,
    /// Issuer on the source deployment (its tokens carry it as `iss`).
    pub issuer: String,
    /// When the rows were read (Unix seconds).
    pub exported_at: i64,
    /// The newest migration of the source's schema.
    pub schema: String,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: u64 = self.rows.values().sum();
        write!(
            f,
            "subscription {} ({total} rows: {} users, {} clients, {} signing keys, {} audit events)",
            self.slug,
            self.rows.get("users").copied().unwrap_or(0),
            self.rows.get("clients").copied().unwrap_or(0),
            self.rows.get("signing_keys").copied().unwrap_or(0),
            self.rows.get("audit_events").copied().unwrap_or(0),
        )
    }
}

impl Snapshot {
    /// The cleartext summary.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The passphrase-encrypted bundle file's bytes (argon2id runs off the executor).
    pub async fn seal(&self, passphrase: SecretString) -> Result<Vec<u8>, TransferError> {
        bundle::check_passphrase(&passphrase)?;
        let payload = Zeroizing::new(serde_json::to_vec(&self.rows).map_err(anyhow::Error::from)?);
        let summary = serde_json::to_value(&self.summary).map_err(anyhow::Error::from)?;
        let sealed =
            tokio::task::spawn_blocking(move || bundle::seal(&summary, &payload, &passphrase))
                .await
                .map_err(anyhow::Error::from)??;
        Ok(sealed)
    }
}

/// Decrypt a bundle file into a snapshot (argon2id runs off the executor).
pub async fn open(file: Vec<u8>, passphrase: SecretString) -> Result<Snapshot, TransferError> {
    let (summary, payload) = tokio::task::spawn_blocking(move || bundle::open(&file, &passphrase))
        .await
        .map_err(anyhow::Error::from)??;
    let summary: Summary = serde_json::from_value(summary)
        .map_err(|_| BundleError::Corrupted("the summary is not a subscription's"))?;
    let rows: TenantRows = serde_json::from_slice(&payload)
        .map_err(|_| BundleError::Corrupted("the payload is not a subscription's rows"))?;
    if rows.slug() != summary.slug || rows.subscription_id().0 != summary.subscription_id {
        return Err(BundleError::Corrupted("the summary does not match the rows").into());
    }
    Ok(Snapshot { rows, summary })
}

fn aad(column: SecretColumn, sub: &SubscriptionId, id: &str) -> Vec<u8> {
    match column {
        SecretColumn::SigningKey => keys::aad(sub, id),
        SecretColumn::ConnectionSecret => connections::aad(sub, id),
        SecretColumn::TotpSecret => mfa::aad(sub, id),
    }
}

fn describe(column: SecretColumn) -> &'static str {
    match column {
        SecretColumn::SigningKey => "private key of signing key",
        SecretColumn::ConnectionSecret => "secret of connection",
        SecretColumn::TotpSecret => "TOTP secret of user",
    }
}

/// Read subscription `slug` from the database holding its tenant data (shared or
/// dedicated) into a snapshot, decrypting its secrets with this deployment's master key,
/// and audit `subscription.exported` there. The event is written when the secrets leave
/// the database in clear, whatever the caller does next.
pub async fn export_from(ctx: &Ctx, slug: &str, actor: &Actor) -> Result<Snapshot, TransferError> {
    if slug == tenants::SYSTEM {
        return Err(TransferError::System);
    }
    let sub = match ctx.store.subscriptions().by_slug(slug).await {
        Err(StoreError::NotFound) => return Err(TransferError::NoSuchSubscription(slug.into())),
        other => other?,
    };
    let store = ctx.db(&sub.id).await?;
    let now = ctx.now();
    let read = store.begin_snapshot().await?;
    let mut rows = read.repos().transfer().read(&sub.id, now).await?;
    read.commit().await?;
    rows.map_secrets(|column, id, blob| {
        ctx.master_key
            .decrypt(blob, &aad(column, &sub.id, id))
            .map_err(|_| TransferError::MasterKey {
                what: describe(column),
                id: id.to_owned(),
            })
    })?;
    let summary = Summary {
        slug: slug.to_owned(),
        subscription_id: sub.id.0.clone(),
        name: rows.name().to_owned(),
        issuer: ctx.settings.issuer(slug),
        exported_at: now,
        schema: schema_version(),
        rows: rows.counts(),
    };
    let tx = store.begin().await?;
    audit::record(
        &tx,
        &sub.id,
        actor,
        "subscription.exported",
        ("subscription", &sub.id.0),
        Some(serde_json::json!({"rows": summary.rows})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(Snapshot { rows, summary })
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The summary of the imported bundle.
    pub summary: Summary,
    /// This deployment's issuer for the subscription.
    pub issuer: String,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: u64 = self.summary.rows.values().sum();
        write!(
            f,
            "imported subscription {} ({total} rows); issuer: {}",
            self.summary.slug, self.issuer
        )?;
        if self.issuer != self.summary.issuer {
            write!(
                f,
                "\nwarning: the source issuer was {}: access and ID tokens issued there carry that `iss` and are refused here; refresh tokens still redeem and get tokens of the new issuer, which relying parties must be configured with",
                self.summary.issuer
            )?;
        }
        Ok(())
    }
}

/// Write `snapshot` into `target` in one transaction (nothing on any error), its
/// secrets encrypted with this deployment's master key, audit `subscription.imported`
/// and invalidate the subscription's caches on every instance. `target` is the shared
/// database (an import: the subscription row is its control row) or a dedicated one
/// (a move: the subscription row is its anchor, without a route).
pub async fn import_into(
    ctx: &Ctx,
    target: &TenantDb,
    snapshot: Snapshot,
    actor: &Actor,
) -> Result<Imported, TransferError> {
    let Snapshot { mut rows, summary } = snapshot;
    if !knows_schema(&summary.schema) {
        return Err(TransferError::NewerSchema {
            bundle: summary.schema,
            ours: schema_version(),
        });
    }
    let slug = rows.slug().to_owned();
    if slug == tenants::SYSTEM {
        return Err(TransferError::System);
    }
    let id = rows.subscription_id();
    rows.map_secrets(|column, row, plain| {
        ctx.master_key
            .encrypt(plain, &aad(column, &id, row))
            .map_err(|e| TransferError::Internal(e.into()))
    })?;
    let tx = target.begin().await?;
    let repos = tx.repos();
    match tx.subscriptions().by_slug(&slug).await {
        Ok(_) => return Err(TransferError::SlugExists(slug)),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    match tx.subscriptions().get(&id).await {
        Ok(other) => {
            return Err(TransferError::IdExists {
                id: id.0,
                slug: other.slug.as_str().to_owned(),
            });
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    repos.transfer().write(&rows).await?;
    audit::record(
        &tx,
        &id,
        actor,
        "subscription.imported",
        ("subscription", &id.0),
        Some(serde_json::json!({
            "rows": summary.rows,
            "exported_at": summary.exported_at,
            "source_issuer": summary.issuer,
        })),
        ctx.now(),
    )
    .await?;
    ctx.commit(tx).await?;
    // As after an admin change: nothing cached about this id or slug (a subscription of
    // the same slug deleted a moment ago, say) may answer for the imported one.
    freshness::bump(ctx, &id).await;
    ctx.tenants.forget(&slug);
    ctx.keyrings.invalidate(&id);
    Ok(Imported {
        issuer: ctx.settings.issuer(&slug),
        summary,
    })
}

/// The passphrase from `file` (one trailing newline ignored) or else from
/// `AUTH_EXPORT_PASSPHRASE`; refused if shorter than 16 characters.
pub fn passphrase(file: Option<&Path>) -> Result<SecretString, TransferError> {
    let text = match file {
        Some(path) => {
            let mut text = std::fs::read_to_string(path).map_err(|source| TransferError::File {
                path: path.to_owned(),
                source,
            })?;
            let kept = text.trim_end_matches(['\n', '\r']).len();
            text.truncate(kept);
            text
        }
        None => std::env::var(PASSPHRASE_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(TransferError::NoPassphrase)?,
    };
    let passphrase = SecretString::from(text);
    bundle::check_passphrase(&passphrase)?;
    Ok(passphrase)
}

fn write_new(out: &Path, bytes: &[u8]) -> Result<(), TransferError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    // Owner-only from the first byte: the bundle is encrypted, but its summary names the
    // tenant and its size, and nobody else needs to read it.
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(out).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => TransferError::Exists(out.to_owned()),
        _ => TransferError::File {
            path: out.to_owned(),
            source,
        },
    })?;
    if let Err(source) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        let _ = std::fs::remove_file(out);
        return Err(TransferError::File {
            path: out.to_owned(),
            source,
        });
    }
    Ok(())
}

/// `admin subscription export`: subscription `slug` into the new file `out` (never
/// overwritten, mode 0600), encrypted under the passphrase of `passphrase_file` or
/// `AUTH_EXPORT_PASSPHRASE`. Returns the bundle's summary.
pub async fn export_to_file(
    ctx: &Ctx,
    slug: &str,
    out: &Path,
    passphrase_file: Option<&Path>,
    actor: &Actor,
) -> Result<Summary, TransferError> {
    // Everything that can be refused without touching the database is refused first.
    if out.exists() {
        return Err(TransferError::Exists(out.to_owned()));
    }
    let passphrase = passphrase(passphrase_file)?;
    let snapshot = export_from(ctx, slug, actor).await?;
    let bytes = snapshot.seal(passphrase).await?;
    write_new(out, &bytes)?;
    Ok(snapshot.summary)
}

/// `admin subscription import`: the bundle `from` into this deployment, decrypted with
/// the passphrase of `passphrase_file` or `AUTH_EXPORT_PASSPHRASE`.
pub async fn import_from_file(
    ctx: &Ctx,
    from: &Path,
    passphrase_file: Option<&Path>,
    actor: &Actor,
) -> Result<Imported, TransferError> {
    let passphrase = passphrase(passphrase_file)?;
    let file = std::fs::read(from).map_err(|source| TransferError::File {
        path: from.to_owned(),
        source,
    })?;
    let snapshot = open(file, passphrase).await?;
    import_into(ctx, &ctx.store.shared(), snapshot, actor).await
}
