//! oxide-auth's `Authorizer` over our ephemeral store (in-process or Redis).

use super::{CODE, Failure, PKCE, until};
use crate::domain::Subscription;
use crate::service::oauth::authorize::CodeRecord;
use crate::service::oauth::code;
use crate::service::{Ctx, FlowError};
use async_trait::async_trait;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};
use oxide_auth_async::primitives::Authorizer;

/// Codes of one tenant.
pub(super) struct CodeAuthorizer<'a> {
    /// Services.
    pub ctx: &'a Ctx,
    /// The tenant.
    pub tenant: &'a Subscription,
    /// The authenticated client of a token request (empty when storing).
    pub client_id: &'a str,
    /// The token request's exact `redirect_uri`, or the placeholder (empty when storing).
    pub redirect_uri: &'a str,
    /// Where a primitive records its specific error.
    pub failure: &'a Failure,
}

/// The record carried in a grant's extensions.
fn record_of(grant: &Grant) -> Option<CodeRecord> {
    grant.extensions.private().find_map(|(k, v)| {
        (k == CODE.0)
            .then(|| v.and_then(|json| serde_json::from_str(json).ok()))
            .flatten()
    })
}

#[async_trait]
impl Authorizer for CodeAuthorizer<'_> {
    /// Store a grant whose extensions carry the rest of its record; the grant's own
    /// client, owner and scope win over the record's.
    async fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        let Some(mut record) = record_of(&grant) else {
            return Err(());
        };
        record.client_id = grant.client_id;
        record.user_id = grant.owner_id;
        record.scope = grant.scope.to_string();
        code::store(self.ctx, self.tenant, &record)
            .await
            .map_err(|e| self.failure.set(e))
    }

    async fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        let record = match code::redeem(self.ctx, self.tenant, code).await {
            Ok(r) => r,
            Err(e) => {
                self.failure.set(e);
                return Ok(None);
            }
        };
        // Exact string equality (oxide-auth compares parsed, normalised URLs); a code
        // issued without a `redirect_uri` does not ask for one.
        let sent = self.redirect_uri;
        if record.redirect_uri.as_deref().is_some_and(|r| r != sent) {
            self.failure.set(FlowError::InvalidGrant(
                "redirect_uri differs from the authorization request",
            ));
            return Ok(None);
        }
        let (Ok(redirect_uri), Ok(scope)) = (sent.parse(), record.scope.parse()) else {
            self.failure
                .set(FlowError::InvalidGrant("malformed code record"));
            return Ok(None);
        };
        // oxide-auth refuses these itself; we only say which it was.
        let now = self.ctx.now();
        if record.client_id != self.client_id {
            self.failure.explain("code issued to another client");
        } else if record.expires_at < now {
            self.failure.explain("code expired");
        }
        let mut extensions = Extensions::new();
        extensions.set(&PKCE, Value::private(Some(record.pkce.clone())));
        let json = serde_json::to_string(&record).map_err(|_| ())?;
        extensions.set(&CODE, Value::private(Some(json)));
        Ok(Some(Grant {
            owner_id: record.user_id,
            client_id: record.client_id,
            redirect_uri,
            scope,
            until: until(record.expires_at, now),
            extensions,
        }))
    }
}

/// Store the code of an authorization the user granted through oxide-auth's
/// `Authorizer::authorize`; `redirect_uri` is the one the code is sent to.
pub async fn store_code(
    ctx: &Ctx,
    tenant: &Subscription,
    record: &CodeRecord,
    redirect_uri: &str,
) -> Result<String, FlowError> {
    let malformed = |_| FlowError::Internal(anyhow::anyhow!("unstorable code record"));
    let mut extensions = Extensions::new();
    extensions.set(&PKCE, Value::private(Some(record.pkce.clone())));
    let json = serde_json::to_string(record).map_err(|e| malformed(e.to_string()))?;
    extensions.set(&CODE, Value::private(Some(json)));
    let grant = Grant {
        owner_id: record.user_id.clone(),
        client_id: record.client_id.clone(),
        redirect_uri: redirect_uri
            .parse()
            .map_err(|e: url::ParseError| malformed(e.to_string()))?,
        scope: record
            .scope
            .parse()
            .map_err(|e: oxide_auth::primitives::scope::ParseScopeErr| malformed(e.to_string()))?,
        until: until(record.expires_at, ctx.now()),
        extensions,
    };
    let failure = Failure::default();
    let mut authorizer = CodeAuthorizer {
        ctx,
        tenant,
        client_id: "",
        redirect_uri: "",
        failure: &failure,
    };
    authorizer
        .authorize(grant)
        .await
        .map_err(|()| failure.take().unwrap_or_else(|| malformed(String::new())))
}
