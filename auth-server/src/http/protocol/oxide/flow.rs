//! The three grants through oxide-auth-async's machines, and the mapping of their
//! outcome to our response or our exact error.

use super::authorizer::CodeAuthorizer;
use super::issuer::{Kind, TokenIssuer};
use super::registrar::ClientRegistrar;
use super::request::TokenRequest;
use super::{Failure, PKCE};
use crate::domain::{Client, GrantType, Subscription};
use crate::http::extract::Params;
use crate::service::oauth::issue::TokenResponse;
use crate::service::oauth::{allowed, code};
use crate::service::{Ctx, FlowError};
use async_trait::async_trait;
use oxide_auth::code_grant::error::{AccessTokenError, AccessTokenErrorType};
use oxide_auth::primitives::grant::Extensions;
use oxide_auth_async::code_grant::{access_token, client_credentials as cc, refresh};
use oxide_auth_async::primitives::{Authorizer, Issuer, Registrar};

/// One token request's primitives.
struct Endpoint<'a> {
    registrar: ClientRegistrar<'a>,
    authorizer: CodeAuthorizer<'a>,
    issuer: TokenIssuer<'a>,
    pkce: PkceCheck<'a>,
    none: (),
}

impl<'a> Endpoint<'a> {
    fn new(
        ctx: &'a Ctx,
        tenant: &'a Subscription,
        issuer: &'a str,
        client: &'a Client,
        request: &'a TokenRequest<'a>,
        failure: &'a Failure,
        kind: Kind,
    ) -> Self {
        Endpoint {
            registrar: ClientRegistrar { client, failure },
            authorizer: CodeAuthorizer {
                ctx,
                tenant,
                client_id: request.client_id,
                redirect_uri: request.redirect_uri(),
                failure,
            },
            issuer: TokenIssuer {
                ctx,
                tenant,
                issuer,
                client,
                resources: &request.params.resources,
                kind,
                failure,
                recovered: None,
                response: None,
            },
            pkce: PkceCheck { failure },
            none: (),
        }
    }

    /// The full response of a machine that succeeded.
    fn response(&mut self) -> Result<TokenResponse, FlowError> {
        self.issuer
            .response
            .take()
            .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("oxide-auth issued no token")))
    }
}

impl access_token::Endpoint for Endpoint<'_> {
    fn registrar(&self) -> &(dyn Registrar + Sync) {
        &self.registrar
    }

    fn authorizer(&mut self) -> &mut (dyn Authorizer + Send) {
        &mut self.authorizer
    }

    fn issuer(&mut self) -> &mut (dyn Issuer + Send) {
        &mut self.issuer
    }

    fn extension(&mut self) -> &mut (dyn access_token::Extension + Send) {
        &mut self.pkce
    }
}

impl refresh::Endpoint for Endpoint<'_> {
    fn registrar(&self) -> &(dyn Registrar + Sync) {
        &self.registrar
    }

    fn issuer(&mut self) -> &mut (dyn Issuer + Send) {
        &mut self.issuer
    }
}

impl cc::Endpoint for Endpoint<'_> {
    fn registrar(&self) -> &(dyn Registrar + Sync) {
        &self.registrar
    }

    fn authorizer(&mut self) -> &mut (dyn Authorizer + Send) {
        &mut self.authorizer
    }

    fn issuer(&mut self) -> &mut (dyn Issuer + Send) {
        &mut self.issuer
    }

    fn extension(&mut self) -> &mut (dyn cc::Extension + Send) {
        &mut self.none
    }
}

/// The code grant's access-token extension: PKCE (RFC 7636 §4.6) with oxide-auth's
/// `Pkce::required()`, against the challenge stored with the code.
struct PkceCheck<'a> {
    failure: &'a Failure,
}

#[async_trait]
impl access_token::Extension for PkceCheck<'_> {
    async fn extend(
        &mut self,
        request: &(dyn oxide_auth::code_grant::accesstoken::Request + Sync),
        mut data: Extensions,
    ) -> Result<Extensions, ()> {
        let challenge = data
            .remove(&PKCE)
            .and_then(|v| v.into_private_value().ok().flatten());
        let Some(challenge) = challenge else {
            self.failure
                .set(FlowError::InvalidGrant("the code has no PKCE challenge"));
            return Err(());
        };
        let verifier = request.extension("code_verifier");
        code::check_verifier(&challenge, verifier.as_deref()).map_err(|e| self.failure.set(e))?;
        // The rest of the record goes on to the issuer.
        Ok(data)
    }
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3).
pub async fn authorization_code(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, FlowError> {
    allowed(client, GrantType::AuthorizationCode)?;
    let failure = Failure::default();
    let request = TokenRequest {
        params,
        client_id: &client.client_id,
    };
    let mut endpoint = Endpoint::new(ctx, tenant, issuer, client, &request, &failure, Kind::Code);
    match access_token::access_token(&mut endpoint, &request).await {
        Ok(_) => endpoint.response(),
        Err(mut e) => Err(failure
            .take()
            .unwrap_or_else(|| explain(e.description(), Kind::Code, params, failure.hint()))),
    }
}

/// `grant_type=refresh_token` (RFC 6749 §6, OAuth 2.1 §4.3).
pub async fn refresh_token(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, FlowError> {
    allowed(client, GrantType::RefreshToken)?;
    let failure = Failure::default();
    let request = TokenRequest {
        params,
        client_id: &client.client_id,
    };
    let mut endpoint = Endpoint::new(
        ctx,
        tenant,
        issuer,
        client,
        &request,
        &failure,
        Kind::Refresh,
    );
    match refresh::refresh(&mut endpoint, &request).await {
        Ok(_) => endpoint.response(),
        Err(mut e) => Err(failure
            .take()
            .unwrap_or_else(|| explain(e.description(), Kind::Refresh, params, failure.hint()))),
    }
}

/// `grant_type=client_credentials` (RFC 6749 §4.4).
pub async fn client_credentials(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, FlowError> {
    allowed(client, GrantType::ClientCredentials)?;
    let failure = Failure::default();
    let request = TokenRequest {
        params,
        client_id: &client.client_id,
    };
    let mut endpoint = Endpoint::new(
        ctx,
        tenant,
        issuer,
        client,
        &request,
        &failure,
        Kind::ClientCredentials,
    );
    let issued = match cc::client_credentials(&mut endpoint, &request).await {
        Ok(pending) => {
            pending
                .issue(&mut endpoint, client.client_id.clone(), false)
                .await
        }
        Err(e) => Err(e),
    };
    match issued {
        Ok(_) => endpoint.response(),
        Err(mut e) => Err(failure.take().unwrap_or_else(|| {
            explain(
                e.description(),
                Kind::ClientCredentials,
                params,
                failure.hint(),
            )
        })),
    }
}

/// Our error for one oxide-auth found by itself (no primitive recorded a cause).
fn explain(
    error: Option<&mut AccessTokenError>,
    kind: Kind,
    params: &Params,
    hint: Option<&'static str>,
) -> FlowError {
    let Some(error) = error else {
        return FlowError::Internal(anyhow::anyhow!("an oxide-auth primitive failed"));
    };
    match error.kind() {
        AccessTokenErrorType::InvalidRequest => {
            let scope_error = params
                .get("scope")
                .and_then(|s| crate::domain::Scope::parse(s).err());
            let description = match kind {
                Kind::Code if params.get("code").is_none() => "code is missing",
                Kind::Code => "redirect_uri is not a valid URL",
                Kind::Refresh if params.get("refresh_token").is_none() => {
                    "refresh_token is missing"
                }
                _ if scope_error.is_some() => {
                    return FlowError::InvalidScope(
                        scope_error.map(|e| e.to_string()).unwrap_or_default(),
                    );
                }
                _ => "malformed token request",
            };
            FlowError::InvalidRequest(description.into())
        }
        AccessTokenErrorType::InvalidClient => {
            FlowError::InvalidClient("oxide-auth refused the client")
        }
        AccessTokenErrorType::InvalidGrant => FlowError::InvalidGrant(hint.unwrap_or(match kind {
            Kind::Code => "invalid authorization code",
            _ => "invalid refresh token",
        })),
        AccessTokenErrorType::UnauthorizedClient => {
            FlowError::UnauthorizedClient("client may not use this grant type")
        }
        AccessTokenErrorType::UnsupportedGrantType => FlowError::UnsupportedGrantType,
        AccessTokenErrorType::InvalidScope => FlowError::InvalidScope(match kind {
            Kind::Refresh => "a refresh can only narrow the scope".into(),
            _ => "a requested scope is not allowed for this client".into(),
        }),
    }
}
