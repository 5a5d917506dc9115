//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1, OIDC Core §3.1.2).
//!
//! Validation happens in two stages, because nothing may be redirected before the
//! client and redirect URI are known good (RFC 6749 §4.1.2.1): [`validate_client`]
//! failures show an error page; [`validate_request`] failures redirect to the
//! registered URI with `error`, `state` and `iss` (RFC 9207).

use super::{pkce, resource};
use crate::domain::{Client, GrantType, Scope, Subscription};
use crate::service::login::{self, Session};
use crate::service::{Ctx, FlowError, random};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How long a replayed code is remembered (to revoke what the first use issued).
pub const TOMBSTONE_TTL: u64 = 600;

/// Raw authorization request parameters (query or form), duplicates already refused.
pub type Params = HashMap<String, String>;

/// A request that passed validation and is worth a transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzRequest {
    /// Client.
    pub client_id: String,
    /// The redirect URI to use (as sent, or the only registered one).
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent (then the token request must repeat it).
    pub redirect_uri_sent: bool,
    /// Requested scope (validated against the client).
    pub scope: String,
    /// Opaque client state, echoed byte for byte.
    pub state: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Encoded PKCE challenge (oxide-auth form).
    pub pkce: String,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `login_hint` for the form.
    pub login_hint: Option<String>,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
    /// SHA-256 of the browser-binding cookie: the login and consent forms are accepted
    /// only from the browser that started the request (login CSRF).
    pub browser: String,
    /// OIDC `id_token_hint`: a session of anyone else is not reused silently.
    #[serde(default)]
    pub id_token_hint: Option<String>,
    /// OIDC `acr_values`; `2fa` asks for a second factor (step-up).
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// OIDC `ui_locales` (space-separated BCP 47 tags): the language of the pages.
    #[serde(default)]
    pub ui_locales: Option<String>,
}

/// A failure after the client and redirect URI were validated: redirect with it.
#[derive(Debug, Clone)]
pub struct RedirectError {
    /// Registered redirect URI.
    pub redirect_uri: String,
    /// RFC 6749 error code.
    pub error: &'static str,
    /// Human description (ASCII, no CR/LF/TAB).
    pub description: String,
    /// State to echo.
    pub state: Option<String>,
}

/// What to do with a validated request.
#[derive(Debug)]
pub enum Next {
    /// Show the login form for this transaction.
    Login(String),
    /// Show the consent page for this transaction.
    Consent(String),
    /// Show the second-factor page (code, enrolment) for this transaction.
    SecondFactor(String),
    /// Redirect the browser (an error).
    Redirect(String),
    /// The user authorized the client: store a code for this grant and redirect with it
    /// (the HTTP layer stores it through oxide-auth's `Authorizer`).
    Code(Box<CodeGrant>),
}

/// An authorization the user granted: the code's record and where the code goes.
#[derive(Debug)]
pub struct CodeGrant {
    /// What the code will stand for.
    pub record: CodeRecord,
    /// The redirect URI of the request (sent or the only registered one).
    pub redirect_uri: String,
    /// Opaque client state, echoed byte for byte.
    pub state: Option<String>,
}

/// Stage one: the client and the redirect URI. `Err` carries the message of the error page.
pub async fn validate_client(
    ctx: &Ctx,
    sub: &Subscription,
    p: &Params,
) -> Result<(Client, String), FlowError> {
    let client_id = p
        .get("client_id")
        .ok_or_else(|| FlowError::InvalidRequest("client_id is missing".into()))?;
    let client = if crate::domain::cimd::looks_like_url(client_id) {
        crate::service::cimd::resolve(ctx, sub, client_id).await?
    } else {
        // The generation-checked client cache, as at the token endpoint: every
        // `/authorize` needs the client, and a change to it bumps the generation.
        match crate::service::clients::lookup(ctx, &sub.id, client_id).await? {
            Some(c) => Client::clone(&c),
            None => return Err(FlowError::InvalidRequest("unknown client".into())),
        }
    };
    // OIDC Core §3.1.2.1 makes `redirect_uri` REQUIRED in an OpenID request, even for a
    // client with a single registered URI (which OAuth 2.1 lets a plain OAuth request
    // omit); the conformance module `oidcc-ensure-redirect-uri-in-authorization-request`
    // expects the error page, never a redirect to the registered URI.
    if !p.contains_key("redirect_uri")
        && p.get("scope")
            .is_some_and(|s| s.split(' ').any(|v| v == "openid"))
    {
        return Err(FlowError::InvalidRequest(
            "redirect_uri is required in an OpenID Connect request".into(),
        ));
    }
    let uri = client
        .spec
        .redirect_uri_for(p.get("redirect_uri").map(String::as_str))
        .ok_or_else(|| {
            FlowError::InvalidRequest(
                "the redirect_uri is missing or not registered for this client".into(),
            )
        })?;
    Ok((client, uri))
}

/// Stage two: everything else, answered by redirect.
pub fn validate_request(
    sub: &Subscription,
    client: &Client,
    redirect_uri: String,
    p: &Params,
) -> Result<AuthzRequest, RedirectError> {
    let state = p.get("state").cloned();
    let fail = |error: &'static str, description: &str| RedirectError {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    match p.get("response_type").map(String::as_str) {
        None => return Err(fail("invalid_request", "response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if p.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if p.contains_key("request") {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if p.contains_key("request_uri") {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if !client.spec.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code grant",
        ));
    }
    let pkce = pkce::challenge(
        p.get("code_challenge_method").map(String::as_str),
        p.get("code_challenge").map(String::as_str),
    )
    .map_err(|m| fail("invalid_request", m))?;
    // RFC 6749 §3.3 lets the server default an omitted scope. MCP clients omit it when
    // neither the challenge nor the resource metadata names one (MCP "scope selection
    // strategy"); an AI client then gets `mcp`, so its MCP resource is allowed.
    let asked = match p.get("scope") {
        None if client.ai_access && client.spec.scope.contains("mcp") => "mcp",
        other => other.map(String::as_str).unwrap_or(""),
    };
    let scope = Scope::parse(asked).map_err(|_| fail("invalid_scope", "malformed scope"))?;
    if !scope.is_subset(&client.spec.scope) {
        return Err(fail(
            "invalid_scope",
            "a requested scope is not allowed for this client",
        ));
    }
    let prompt: Vec<String> = p
        .get("prompt")
        .map(|v| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if prompt
        .iter()
        .any(|v| !["none", "login", "consent", "select_account"].contains(&v.as_str()))
    {
        return Err(fail("invalid_request", "unknown prompt value"));
    }
    if prompt.contains(&"none".to_owned()) && prompt.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age =
        match p.get("max_age") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                fail("invalid_request", "max_age must be a non-negative integer")
            })?),
        };
    if p.get("claims").is_some_and(|c| {
        serde_json::from_str::<serde_json::Value>(c)
            .map(|v| !v.is_object())
            .unwrap_or(true)
    }) {
        return Err(fail("invalid_request", "claims must be a JSON object"));
    }
    let resources: Vec<String> = p
        .get("resource")
        .map(|r| {
            r.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    resource::audience(sub, client, &scope, &resources)
        .map_err(|_| fail("invalid_target", "a requested resource is not allowed"))?;
    Ok(AuthzRequest {
        client_id: client.client_id.clone(),
        redirect_uri_sent: p.contains_key("redirect_uri"),
        redirect_uri,
        scope: scope.to_string(),
        state,
        nonce: p.get("nonce").cloned(),
        pkce,
        prompt,
        max_age,
        login_hint: p.get("login_hint").cloned(),
        resources,
        browser: String::new(),
        id_token_hint: p.get("id_token_hint").cloned(),
        ui_locales: p.get("ui_locales").cloned(),
        acr_values: p
            .get("acr_values")
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A stored authorization code (by hash), single use, 60 s.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI, if the request carried one.
    pub redirect_uri: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// The user.
    pub user_id: String,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Authentication time.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class (`1fa` / `2fa`).
    #[serde(default)]
    pub acr: Option<String>,
    /// Encoded PKCE challenge.
    pub pkce: String,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
    /// The family its tokens will belong to (known now so a replay can revoke it).
    pub family_id: String,
    /// Expiry.
    pub expires_at: i64,
    /// Public id of the browser session that authorized it.
    #[serde(default)]
    pub sid: String,
}

/// Cache key of a code.
pub fn code_key(sub: &Subscription, code: &str) -> String {
    format!("code:{}:{}", sub.id.0, crate::tokens::hash_token(code))
}

/// Cache key of a redeemed code's tombstone.
pub fn tombstone_key(sub: &Subscription, code: &str) -> String {
    format!("codeused:{}:{}", sub.id.0, crate::tokens::hash_token(code))
}

/// The redirect URL carrying `params`, plus `iss` (RFC 9207).
pub fn redirect_url(
    redirect_uri: &str,
    issuer: &str,
    params: &[(&str, &str)],
) -> Result<String, FlowError> {
    let mut url = url::Url::parse(redirect_uri).map_err(|e| FlowError::Internal(e.into()))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("iss", issuer);
    }
    Ok(url.into())
}

/// The redirect for a [`RedirectError`].
pub fn error_redirect(e: &RedirectError, issuer: &str) -> Result<String, FlowError> {
    let mut params = vec![
        ("error", e.error),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = &e.state {
        params.push(("state", s.as_str()));
    }
    redirect_url(&e.redirect_uri, issuer, &params)
}

/// Decide what happens next for a validated request and the browser's session.
/// `fresh_login` is true right after a sign-in for this transaction completed (password,
/// directory, SSO or second factor), whose caller has just read the user and checked it
/// is not disabled; the user is then not read again.
pub async fn decide(
    ctx: &Ctx,
    sub: &Subscription,
    client: &Client,
    issuer: &str,
    req: AuthzRequest,
    session: Option<Session>,
    fresh_login: bool,
) -> Result<Next, FlowError> {
    let now = ctx.now();
    let has = |p: &str| req.prompt.iter().any(|v| v == p);
    let too_old = |s: &Session| req.max_age.is_some_and(|m| now - s.auth_time > m);
    let hinted = match &req.id_token_hint {
        Some(hint) => Some(hinted_subject(ctx, sub, issuer, hint).await?),
        None => None,
    };
    // A hint that is forged, of another tenant or of another user never leads to a
    // silent login (OIDC Core §3.1.2.1): the session is not used.
    let matches_hint = |s: &Session| {
        hinted
            .as_ref()
            .is_none_or(|h| h.as_deref() == Some(s.user_id.as_str()))
    };
    let session =
        session.filter(|s| fresh_login || (!has("login") && !too_old(s) && matches_hint(s)));
    let err = |error: &'static str, d: &str| RedirectError {
        redirect_uri: req.redirect_uri.clone(),
        error,
        description: d.into(),
        state: req.state.clone(),
    };
    let Some(session) = session else {
        if has("none") {
            return Ok(Next::Redirect(error_redirect(
                &err("login_required", "the user is not logged in"),
                issuer,
            )?));
        }
        let (id, _) = login::start_tx(ctx, sub, req).await?;
        return Ok(Next::Login(id));
    };
    // A session's user may have been disabled or deleted since it signed in; a fresh
    // login read and checked its user a moment ago (one query less per sign-in).
    if !fresh_login {
        match ctx
            .db(&sub.id)
            .await?
            .repos()
            .users()
            .get(&sub.id, &session.user_id)
            .await
        {
            Ok(u) if !u.disabled => {}
            Ok(_) | Err(crate::store::StoreError::NotFound) => {
                let (id, _) = login::start_tx(ctx, sub, req).await?;
                return Ok(Next::Login(id));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Step-up (OIDC Core §3.1.2.1 `acr_values`, `max_age`): a session without a fresh
    // enough second factor gives it again before any code is issued; so does a session
    // without one when the policy (now) requires it.
    if !fresh_login
        && (crate::mfa::step_up_needed(&req.acr_values, session.mfa_at, req.max_age, now)
            || crate::service::second_factor::session_lacks_required(ctx, sub, &session).await?)
    {
        if has("none") {
            return Ok(Next::Redirect(error_redirect(
                &err("interaction_required", "a second factor is required"),
                issuer,
            )?));
        }
        if let Some(id) =
            crate::service::second_factor::start_step_up(ctx, sub, req.clone(), &session).await?
        {
            return Ok(Next::SecondFactor(id));
        }
    }
    let scope = Scope::parse(&req.scope).map_err(|e| FlowError::InvalidRequest(e.to_string()))?;
    // `prompt=consent` asks every client, first-party (`skip_consent`) ones too: the
    // server SHOULD prompt for consent when it is present (OIDC Core §3.1.2.1).
    // Metadata-document clients are anyone on the internet: ask every time.
    let consented = !has("consent")
        && (client.spec.skip_consent
            || (!crate::domain::cimd::looks_like_url(&client.client_id)
                && ctx
                    .db(&sub.id)
                    .await?
                    .repos()
                    .consents()
                    .get(&sub.id, &session.user_id, &client.client_id)
                    .await?
                    .is_some_and(|c| scope.is_subset(&c))));
    if !consented {
        if has("none") {
            return Ok(Next::Redirect(error_redirect(
                &err("consent_required", "the user has not consented"),
                issuer,
            )?));
        }
        let (id, _) = login::start_tx(ctx, sub, req).await?;
        return Ok(Next::Consent(id));
    }
    Ok(code_grant(ctx, &req, &session))
}

/// The `sub` of an ID token this issuer signed (expired hints still name their user),
/// or `None` when the hint does not verify.
async fn hinted_subject(
    ctx: &Ctx,
    sub: &Subscription,
    issuer: &str,
    hint: &str,
) -> Result<Option<String>, FlowError> {
    let ring = crate::service::keys::verifying_ring(ctx, &sub.id, hint).await?;
    let claims =
        crate::tokens::jwt::verify(&ring, hint, "JWT", ctx.now(), i64::from(u32::MAX)).ok();
    Ok(claims
        .filter(|c| c.get("iss").and_then(|v| v.as_str()) == Some(issuer))
        .and_then(|c| c.get("sub").and_then(|v| v.as_str()).map(str::to_owned)))
}

/// Record consent (audited as `consent.granted`, by the user through the client) and
/// grant the code (after the consent form).
pub async fn grant_consent(
    ctx: &Ctx,
    sub: &Subscription,
    req: &AuthzRequest,
    session: &Session,
    meta: (Option<String>, Option<String>),
) -> Result<Next, FlowError> {
    let scope = Scope::parse(&req.scope).map_err(|e| FlowError::InvalidRequest(e.to_string()))?;
    let actor = crate::service::Actor {
        user_id: Some(session.user_id.clone()),
        client_id: Some(req.client_id.clone()),
        act: None,
        request_id: meta.0,
        ip: meta.1,
    };
    crate::service::consents::grant(
        ctx,
        &sub.id,
        &session.user_id,
        &req.client_id,
        &scope,
        &actor,
    )
    .await?;
    Ok(code_grant(ctx, req, session))
}

/// The `access_denied` redirect when the user cancels.
pub fn deny(req: &AuthzRequest, issuer: &str) -> Result<String, FlowError> {
    let e = RedirectError {
        redirect_uri: req.redirect_uri.clone(),
        error: "access_denied",
        description: "the user denied the request".into(),
        state: req.state.clone(),
    };
    error_redirect(&e, issuer)
}

fn code_grant(ctx: &Ctx, req: &AuthzRequest, session: &Session) -> Next {
    let record = CodeRecord {
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri_sent.then(|| req.redirect_uri.clone()),
        scope: req.scope.clone(),
        user_id: session.user_id.clone(),
        nonce: req.nonce.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        acr: session.acr.clone(),
        pkce: req.pkce.clone(),
        resources: req.resources.clone(),
        family_id: random::id(),
        expires_at: ctx.now() + ctx.settings.code_ttl as i64,
        sid: session.sid.clone(),
    };
    Next::Code(Box::new(CodeGrant {
        record,
        redirect_uri: req.redirect_uri.clone(),
        state: req.state.clone(),
    }))
}

/// The success redirect carrying a stored `code` for `grant`, `state` and `iss`.
pub fn code_redirect(grant: &CodeGrant, code: &str, issuer: &str) -> Result<String, FlowError> {
    let mut params = vec![("code", code)];
    if let Some(s) = &grant.state {
        params.push(("state", s.as_str()));
    }
    redirect_url(&grant.redirect_uri, issuer, &params)
}
