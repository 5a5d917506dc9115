//! Minting tokens: RFC 9068 JWT or opaque access tokens, OIDC ID tokens and rotating
//! refresh tokens. Every grant ends here, so the claims are built in one place.

use crate::domain::{Client, Scope, Subscription, TokenFormat, User};
use crate::service::{Ctx, FlowError, keys, random};
use crate::store::tokens::OpaqueRow;
use crate::tokens::{AccessTokenClaims, Alg, Audience, IdTokenClaims, at_hash, hash_token, jwt};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// The token endpoint's success response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scope (always sent, so narrowing is visible).
    pub scope: String,
    /// New refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 8693 `issued_token_type` (token exchange only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// Facts of the user's authentication carried into tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthFacts {
    /// OIDC `auth_time`.
    pub auth_time: i64,
    /// OIDC `amr`.
    pub amr: Vec<String>,
    /// OIDC `acr`.
    #[serde(default)]
    pub acr: Option<String>,
}

/// Everything needed to mint the tokens of one grant.
#[derive(Debug)]
pub struct Grant<'a> {
    /// The tenant.
    pub tenant: &'a Subscription,
    /// Its issuer URL.
    pub issuer: &'a str,
    /// The client receiving the tokens.
    pub client: &'a Client,
    /// The user, for user-delegated grants.
    pub user: Option<&'a User>,
    /// Granted scope of this access token.
    pub scope: Scope,
    /// `aud` of the access token.
    pub audience: Vec<String>,
    /// Family of a user grant (revocation handle).
    pub family_id: Option<String>,
    /// Authentication facts (user grants).
    pub auth: Option<AuthFacts>,
    /// OIDC nonce for the ID token.
    pub nonce: Option<String>,
    /// RFC 8693 actor claim.
    pub act: Option<serde_json::Value>,
}

/// The scope a user-delegated token may carry: `admin` only for administrators.
pub fn user_scope(scope: &Scope, user: &User) -> Scope {
    if user.subscription_admin || user.system_admin {
        scope.clone()
    } else {
        scope.without("admin")
    }
}

fn alg(name: &str) -> Result<Alg, FlowError> {
    name.parse::<Alg>()
        .map_err(|e| FlowError::Internal(anyhow::anyhow!("client signing alg: {e}")))
}

/// Mint an access token; returns it and its `jti`.
pub async fn access_token(ctx: &Ctx, g: &Grant<'_>) -> Result<(String, String), FlowError> {
    // Metadata-document clients are not stored: remember this one so that admins can
    // list it and revoke its tokens (`service::metadata_clients`).
    if crate::domain::cimd::looks_like_url(&g.client.client_id) {
        // Boxed, like the opaque insert below: a database write's future is kilobytes,
        // and inline it would be copied with every JWT issued.
        let record: BoxFuture<'_, _> = Box::pin(crate::service::metadata_clients::record_use(
            ctx, g.tenant, g.client,
        ));
        record.await?;
    }
    let now = ctx.now();
    let jti = random::token(16);
    let subject = g
        .user
        .map(|u| u.id.clone())
        .unwrap_or_else(|| g.client.client_id.clone());
    let claims = AccessTokenClaims {
        iss: g.issuer.to_owned(),
        sub: subject,
        aud: Audience(g.audience.clone()),
        exp: now + ctx.settings.access_token_ttl as i64,
        iat: now,
        nbf: None,
        jti: jti.clone(),
        client_id: g.client.client_id.clone(),
        scope: g.scope.to_string(),
        sub_tenant: g.tenant.slug.as_str().to_owned(),
        auth_time: g.auth.as_ref().map(|a| a.auth_time),
        acr: g.auth.as_ref().and_then(|a| a.acr.clone()),
        amr: g.auth.as_ref().map(|a| a.amr.clone()),
        act: g.act.clone(),
        gid: g.family_id.clone(),
    };
    match g.client.spec.access_token_format {
        TokenFormat::Jwt => {
            let alg = alg(&g.client.spec.access_token_signing_alg)?;
            let token = keys::sign(ctx, &g.tenant.id, alg, jwt::TYP_ACCESS_TOKEN, &claims).await?;
            Ok((token, jti))
        }
        TokenFormat::Opaque => {
            let token = random::token(32);
            let row = OpaqueRow {
                claims: serde_json::to_value(&claims).map_err(anyhow::Error::from)?,
                family_id: g.family_id.clone(),
                expires_at: claims.exp,
            };
            let insert: BoxFuture<'_, Result<_, FlowError>> = Box::pin(async {
                ctx.db(&g.tenant.id)
                    .await?
                    .repos()
                    .tokens()
                    .insert_opaque(&g.tenant.id, &hash_token(&token), &jti, &row)
                    .await
                    .map_err(FlowError::from)
            });
            insert.await?;
            Ok((token, jti))
        }
    }
}

/// Profile claims of `user` released for `scope` (OIDC Core §5.4).
pub fn profile_claims(user: &User, scope: &Scope) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if scope.contains("profile") {
        m.insert("preferred_username".into(), user.username.clone().into());
        if let Some(n) = &user.name {
            m.insert("name".into(), n.clone().into());
        }
    }
    if scope.contains("email")
        && let Some(e) = &user.email
    {
        m.insert("email".into(), e.clone().into());
        m.insert("email_verified".into(), false.into());
    }
    m
}

/// Mint an ID token bound to `access_token` (`at_hash`).
pub async fn id_token(
    ctx: &Ctx,
    g: &Grant<'_>,
    user: &User,
    access_token: &str,
) -> Result<String, FlowError> {
    let now = ctx.now();
    let alg = alg(&g.client.spec.id_token_signed_response_alg)?;
    let auth = g.auth.clone().unwrap_or_default();
    let claims = IdTokenClaims {
        iss: g.issuer.to_owned(),
        sub: user.id.clone(),
        aud: Audience::one(g.client.client_id.clone()),
        exp: now + ctx.settings.id_token_ttl as i64,
        iat: now,
        auth_time: auth.auth_time,
        nonce: g.nonce.clone(),
        acr: auth.acr,
        amr: Some(auth.amr),
        at_hash: Some(at_hash(access_token, alg)),
        azp: Some(g.client.client_id.clone()),
        sid: None,
        extra: profile_claims(user, &g.scope),
    };
    keys::sign(ctx, &g.tenant.id, alg, jwt::TYP_ID_TOKEN, &claims).await
}

/// Store a new refresh token of a family; returns the token.
pub async fn refresh_token(
    ctx: &Ctx,
    tx: &crate::store::Tx,
    tenant: &Subscription,
    family_id: &str,
    scope: &Scope,
) -> Result<(String, String), FlowError> {
    let token = random::token(32);
    let hash = hash_token(&token);
    let now = ctx.now();
    tx.repos()
        .tokens()
        .insert_refresh(
            &tenant.id,
            &hash,
            family_id,
            &scope.to_string(),
            now + ctx.settings.refresh_token_ttl as i64,
            now,
        )
        .await?;
    Ok((token, hash))
}

/// The full response of a user grant: access token, ID token when `openid` was granted.
pub async fn user_tokens(
    ctx: &Ctx,
    g: &Grant<'_>,
    user: &User,
    refresh_token: Option<String>,
) -> Result<TokenResponse, FlowError> {
    let (access_token, _) = access_token(ctx, g).await?;
    let id_token = if g.scope.contains("openid") {
        Some(id_token(ctx, g, user, &access_token).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.settings.access_token_ttl,
        scope: g.scope.to_string(),
        refresh_token,
        id_token,
        issued_token_type: None,
    })
}
