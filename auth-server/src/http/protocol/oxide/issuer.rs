//! oxide-auth's `Issuer` over our issuance: RFC 9068 access tokens, ID tokens and
//! rotating refresh tokens in the database.

use super::request::NO_REDIRECT_URL;
use super::{CODE, Failure, from_oxide, until};
use crate::domain::{Client, Subscription};
use crate::service::oauth::issue::TokenResponse;
use crate::service::oauth::{client_credentials, code, refresh};
use crate::service::{Ctx, FlowError};
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, RefreshedToken, TokenType};
use oxide_auth_async::primitives::Issuer;

/// Which grant the issuer serves (oxide-auth's `issue` is shared by two machines).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `authorization_code`.
    Code,
    /// `client_credentials`.
    ClientCredentials,
    /// `refresh_token`.
    Refresh,
}

/// Issues the tokens of one token request.
pub(super) struct TokenIssuer<'a> {
    /// Services.
    pub ctx: &'a Ctx,
    /// The tenant.
    pub tenant: &'a Subscription,
    /// Its issuer URL.
    pub issuer: &'a str,
    /// The authenticated client.
    pub client: &'a Client,
    /// RFC 8707 `resource` values of the request.
    pub resources: &'a [String],
    /// The grant served.
    pub kind: Kind,
    /// Where a primitive records its specific error.
    pub failure: &'a Failure,
    /// The refresh token `recover_refresh` found, for `refresh` (no second lookup).
    pub recovered: Option<refresh::Recovered>,
    /// The full response (oxide-auth's has no `id_token`).
    pub response: Option<TokenResponse>,
}

impl TokenIssuer<'_> {
    /// Keep the full response; hand oxide-auth its view of it.
    fn keep(&mut self, r: Result<TokenResponse, FlowError>) -> Result<IssuedToken, ()> {
        let response = r.map_err(|e| self.failure.set(e))?;
        let issued = IssuedToken {
            token: response.access_token.clone(),
            refresh: response.refresh_token.clone(),
            until: until(self.ctx.now() + response.expires_in as i64, self.ctx.now()),
            token_type: TokenType::Bearer,
        };
        self.response = Some(response);
        Ok(issued)
    }
}

#[async_trait]
impl Issuer for TokenIssuer<'_> {
    async fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let r = match self.kind {
            Kind::Code => {
                let record = grant.extensions.private().find_map(|(k, v)| {
                    (k == CODE.0)
                        .then(|| v.and_then(|json| serde_json::from_str(json).ok()))
                        .flatten()
                });
                match record {
                    // Boxed: async_trait moves this whole future into its box on every
                    // call, and the code grant's (user read, session check, ID token,
                    // refresh family) is kilobytes that a client-credentials request
                    // would copy for nothing (docs/performance.md, session 12).
                    Some(record) => {
                        let issue: BoxFuture<'_, _> = Box::pin(code::issue(
                            self.ctx,
                            self.tenant,
                            self.issuer,
                            self.client,
                            &record,
                            self.resources,
                        ));
                        issue.await
                    }
                    None => Err(FlowError::InvalidGrant("malformed code record")),
                }
            }
            Kind::ClientCredentials => match from_oxide(&grant.scope) {
                Ok(scope) => {
                    client_credentials::issue(
                        self.ctx,
                        self.tenant,
                        self.issuer,
                        self.client,
                        scope,
                        self.resources,
                    )
                    .await
                }
                Err(e) => Err(e),
            },
            Kind::Refresh => return Err(()),
        };
        self.keep(r)
    }

    async fn refresh(&mut self, _token: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        let Some(recovered) = self.recovered.take() else {
            return Err(());
        };
        // oxide-auth has checked the narrowing against the token's scope; the service
        // checks it again against ours before rotating.
        let r = match from_oxide(&grant.scope) {
            Ok(asked) => {
                refresh::rotate(
                    self.ctx,
                    self.tenant,
                    self.issuer,
                    self.client,
                    recovered,
                    Some(asked),
                    self.resources,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let issued = self.keep(r)?;
        Ok(RefreshedToken {
            token: issued.token,
            refresh: issued.refresh,
            until: issued.until,
            token_type: issued.token_type,
        })
    }

    async fn recover_token(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        // Access tokens are verified by introspection and userinfo, not by oxide-auth.
        Ok(None)
    }

    async fn recover_refresh(&mut self, token: &str) -> Result<Option<Grant>, ()> {
        let recovered = match refresh::recover(self.ctx, self.tenant, self.client, token).await {
            Ok(r) => r,
            Err(e) => {
                self.failure.set(e);
                return Ok(None);
            }
        };
        let (Some(redirect_uri), Ok(scope)) =
            (NO_REDIRECT_URL.clone(), recovered.row.scope.parse())
        else {
            self.failure
                .set(FlowError::InvalidGrant("malformed refresh token record"));
            return Ok(None);
        };
        let grant = Grant {
            owner_id: recovered.family.subject.clone(),
            client_id: recovered.family.client_id.clone(),
            redirect_uri,
            scope,
            until: until(recovered.row.expires_at, self.ctx.now()),
            extensions: Extensions::new(),
        };
        self.recovered = Some(recovered);
        Ok(Some(grant))
    }
}
