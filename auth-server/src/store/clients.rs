//! OAuth clients of a subscription.

use super::entity::client as e;
use super::{StoreError, from_json, to_json};
use crate::domain::{AuthMethod, Client, ClientSpec, Scope, SubscriptionId, TokenFormat};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Repository of clients.
pub struct Clients<'a, C> {
    pub(super) c: &'a C,
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn text_enum<T: serde::de::DeserializeOwned>(s: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(what))
}

fn to_domain(m: e::Model) -> Result<Client, StoreError> {
    let spec = ClientSpec {
        redirect_uris: from_json(&m.redirect_uris, "clients.redirect_uris")?,
        post_logout_redirect_uris: from_json(
            &m.post_logout_redirect_uris,
            "clients.post_logout_redirect_uris",
        )?,
        grant_types: from_json(&m.grant_types, "clients.grant_types")?,
        scope: Scope::parse(&m.scope).map_err(|_| StoreError::Corrupt("clients.scope"))?,
        auth_method: text_enum::<AuthMethod>(
            &m.token_endpoint_auth_method,
            "clients.token_endpoint_auth_method",
        )?,
        access_token_format: text_enum::<TokenFormat>(
            &m.access_token_format,
            "clients.access_token_format",
        )?,
        access_token_signing_alg: m.access_token_signing_alg,
        id_token_signed_response_alg: m.id_token_signed_response_alg,
        introspection: m.introspection,
        audience: from_json(&m.audience, "clients.audience")?,
        allowed_resources: from_json(&m.allowed_resources, "clients.allowed_resources")?,
        skip_consent: m.skip_consent,
        jwks: m
            .jwks
            .as_deref()
            .map(|j| from_json(j, "clients.jwks"))
            .transpose()?,
    };
    Ok(Client {
        client_id: m.client_id,
        name: m.name,
        secret_hash: m.secret_hash,
        spec,
        ai_access: m.ai_access,
        enabled: m.enabled,
    })
}

fn fill(am: &mut e::ActiveModel, c: &Client, now: i64) {
    let s = &c.spec;
    am.name = Set(c.name.clone());
    am.secret_hash = Set(c.secret_hash.clone());
    am.redirect_uris = Set(to_json(&s.redirect_uris));
    am.post_logout_redirect_uris = Set(to_json(&s.post_logout_redirect_uris));
    am.grant_types = Set(to_json(&s.grant_types));
    am.scope = Set(s.scope.to_string());
    am.token_endpoint_auth_method = Set(enum_text(&s.auth_method));
    am.access_token_format = Set(enum_text(&s.access_token_format));
    am.access_token_signing_alg = Set(s.access_token_signing_alg.clone());
    am.id_token_signed_response_alg = Set(s.id_token_signed_response_alg.clone());
    am.introspection = Set(s.introspection);
    am.audience = Set(to_json(&s.audience));
    am.allowed_resources = Set(to_json(&s.allowed_resources));
    am.skip_consent = Set(s.skip_consent);
    am.ai_access = Set(c.ai_access);
    am.jwks = Set(s.jwks.as_ref().map(to_json));
    am.enabled = Set(c.enabled);
    am.updated_at = Set(now);
}

impl<C: ConnectionTrait> Clients<'_, C> {
    /// Insert; a taken `client_id` in this subscription is `Conflict`.
    pub async fn insert(
        &self,
        sub: &SubscriptionId,
        client: &Client,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut am = e::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            subscription_id: Set(sub.0.clone()),
            client_id: Set(client.client_id.clone()),
            created_at: Set(now),
            ..Default::default()
        };
        fill(&mut am, client, now);
        am.insert(self.c).await?;
        Ok(())
    }

    async fn row(&self, sub: &SubscriptionId, client_id: &str) -> Result<e::Model, StoreError> {
        e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::ClientId.eq(client_id))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A client of this subscription.
    pub async fn get(&self, sub: &SubscriptionId, client_id: &str) -> Result<Client, StoreError> {
        to_domain(self.row(sub, client_id).await?)
    }

    /// Replace a client's registration.
    pub async fn update(
        &self,
        sub: &SubscriptionId,
        client: &Client,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut am: e::ActiveModel = self.row(sub, &client.client_id).await?.into();
        fill(&mut am, client, now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Delete a client.
    pub async fn delete(&self, sub: &SubscriptionId, client_id: &str) -> Result<(), StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::ClientId.eq(client_id))
            .exec(self.c)
            .await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Page through the clients, ordered by `client_id`.
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Client>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::ClientId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::ClientId.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }

    /// Mark a client as dynamically registered with the hash of its registration
    /// access token (RFC 7592).
    pub async fn set_registration_token(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
        hash: &str,
    ) -> Result<(), StoreError> {
        let mut am: e::ActiveModel = self.row(sub, client_id).await?.into();
        am.registration_token_hash = Set(Some(hash.to_owned()));
        am.update(self.c).await?;
        Ok(())
    }

    /// The registration access token hash of a registered client (`None`: created by
    /// an admin, so not manageable through RFC 7592).
    pub async fn registration_token(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.row(sub, client_id).await?.registration_token_hash)
    }

    /// How many dynamically registered clients the subscription has.
    pub async fn count_registered(&self, sub: &SubscriptionId) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::RegistrationTokenHash.is_not_null())
            .count(self.c)
            .await?)
    }

    /// Page through the dynamically registered clients, by `client_id`.
    pub async fn list_registered(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Client>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::RegistrationTokenHash.is_not_null())
            .order_by_asc(e::Column::ClientId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::ClientId.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }

    /// Page through the clients allowed the `mcp` scope (AI clients), by `client_id`.
    pub async fn list_ai(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Client>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::AiAccess.eq(true))
            .order_by_asc(e::Column::ClientId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::ClientId.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }
}
