//! oxide-auth's `Registrar` over the tenant's client that authenticated this request.

use super::request::{NO_REDIRECT_URI, NO_REDIRECT_URL};
use super::{Failure, to_oxide};
use crate::domain::Client;
use crate::service::oauth::client_credentials;
use async_trait::async_trait;
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, PreGrant, RegisteredUrl, RegistrarError,
};
use oxide_auth::primitives::scope::Scope;
use oxide_auth_async::primitives::Registrar;
use std::borrow::Cow;

/// The client `service::clients::authenticate` resolved (tenant-scoped, cached) and
/// authenticated, including `private_key_jwt`, which oxide-auth cannot verify.
pub(super) struct ClientRegistrar<'a> {
    /// The authenticated client.
    pub client: &'a Client,
    /// Where a primitive records its specific error.
    pub failure: &'a Failure,
}

impl ClientRegistrar<'_> {
    fn is_ours(&self, client_id: &str) -> bool {
        client_id == self.client.client_id
    }
}

#[async_trait]
impl Registrar for ClientRegistrar<'_> {
    async fn bound_redirect<'b>(
        &self,
        bound: ClientUrl<'b>,
    ) -> Result<BoundClient<'b>, RegistrarError> {
        if !self.is_ours(&bound.client_id) {
            return Err(RegistrarError::Unspecified);
        }
        // Exact string matching, any port only for loopback URIs (RFC 8252 §7.3): the
        // matched URI is the one sent, so oxide-auth gets it as an `ExactUrl`. No
        // redirect URI at all is the client-credentials grant's case.
        let uri = match &bound.redirect_uri {
            Some(sent) => self
                .client
                .spec
                .redirect_uri_for(Some(sent.as_str()))
                .ok_or(RegistrarError::Unspecified)?,
            None => match (self.client.spec.redirect_uri_for(None), &*NO_REDIRECT_URL) {
                (None, Some(placeholder)) => {
                    return Ok(BoundClient {
                        client_id: bound.client_id,
                        redirect_uri: Cow::Owned(RegisteredUrl::Semantic(placeholder.clone())),
                    });
                }
                (uri, _) => uri.unwrap_or_else(|| NO_REDIRECT_URI.to_owned()),
            },
        };
        let exact = ExactUrl::new(uri).map_err(|_| RegistrarError::Unspecified)?;
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(exact)),
        })
    }

    async fn negotiate<'b>(
        &self,
        bound: BoundClient<'b>,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let asked = scope.map(|s| s.to_string());
        match client_credentials::negotiate(self.client, asked.as_deref())
            .and_then(|scope| to_oxide(&scope))
        {
            Ok(scope) => Ok(PreGrant {
                client_id: bound.client_id.into_owned(),
                redirect_uri: bound.redirect_uri.into_owned(),
                scope,
            }),
            Err(e) => {
                self.failure.set(e);
                Err(RegistrarError::Unspecified)
            }
        }
    }

    async fn check(&self, client_id: &str, _: Option<&[u8]>) -> Result<(), RegistrarError> {
        // The credentials were verified before the machine ran; what is left to check
        // is that the machine speaks of that client.
        if self.is_ours(client_id) {
            Ok(())
        } else {
            Err(RegistrarError::Unspecified)
        }
    }
}
