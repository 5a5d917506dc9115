//! Identity connections of a subscription and the links from a connection's external
//! identities to users. The secret column holds ciphertext or an environment variable
//! name; decryption happens in the service, never here.

use super::entity::{connection as e, user_link as l};
use super::{StoreError, from_json, to_json};
use crate::domain::SubscriptionId;
use crate::domain::connection::{Connection, ConnectionKind, StoredSecret};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Repository of connections and user links.
pub struct Connections<'a, C> {
    pub(super) c: &'a C,
}

/// A link from (connection, external id) to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLink {
    /// The connection.
    pub connection_id: String,
    /// Stable id at the directory or upstream (entryUUID, objectGUID, `sub`).
    pub external_id: String,
    /// The local user.
    pub user_id: String,
}

fn to_domain(m: e::Model) -> Result<Connection, StoreError> {
    let secret = match (m.secret_ciphertext, m.secret_env) {
        (Some(c), _) => StoredSecret::Encrypted(
            STANDARD
                .decode(c)
                .map_err(|_| StoreError::Corrupt("connections.secret_ciphertext"))?,
        ),
        (None, Some(env)) => StoredSecret::Env(env),
        (None, None) => StoredSecret::None,
    };
    Ok(Connection {
        id: m.id,
        name: m.name,
        kind: ConnectionKind::parse(&m.kind).ok_or(StoreError::Corrupt("connections.kind"))?,
        enabled: m.enabled,
        order: m.position,
        config: from_json(&m.config, "connections.config")?,
        secret,
        updated_at: m.updated_at,
    })
}

fn secret_columns(s: &StoredSecret) -> (Option<String>, Option<String>) {
    match s {
        StoredSecret::None => (None, None),
        StoredSecret::Encrypted(b) => (Some(STANDARD.encode(b)), None),
        StoredSecret::Env(n) => (None, Some(n.clone())),
    }
}

impl<C: ConnectionTrait> Connections<'_, C> {
    /// Insert; a taken name is `Conflict`.
    pub async fn insert(
        &self,
        sub: &SubscriptionId,
        conn: &Connection,
        now: i64,
    ) -> Result<(), StoreError> {
        let (cipher, env) = secret_columns(&conn.secret);
        e::ActiveModel {
            id: Set(conn.id.clone()),
            subscription_id: Set(sub.0.clone()),
            name: Set(conn.name.clone()),
            kind: Set(conn.kind.as_str().to_owned()),
            enabled: Set(conn.enabled),
            position: Set(conn.order),
            config: Set(to_json(&conn.config)),
            secret_ciphertext: Set(cipher),
            secret_env: Set(env),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    async fn row(&self, sub: &SubscriptionId, id: &str) -> Result<e::Model, StoreError> {
        e::Entity::find_by_id(id.to_owned())
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A connection by id.
    pub async fn get(&self, sub: &SubscriptionId, id: &str) -> Result<Connection, StoreError> {
        to_domain(self.row(sub, id).await?)
    }

    /// A connection by name.
    pub async fn by_name(
        &self,
        sub: &SubscriptionId,
        name: &str,
    ) -> Result<Connection, StoreError> {
        e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::Name.eq(name))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)
            .and_then(to_domain)
    }

    /// Replace everything but the id; a taken name is `Conflict`.
    pub async fn update(
        &self,
        sub: &SubscriptionId,
        conn: &Connection,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut am: e::ActiveModel = self.row(sub, &conn.id).await?.into();
        let (cipher, env) = secret_columns(&conn.secret);
        am.name = Set(conn.name.clone());
        am.kind = Set(conn.kind.as_str().to_owned());
        am.enabled = Set(conn.enabled);
        am.position = Set(conn.order);
        am.config = Set(to_json(&conn.config));
        am.secret_ciphertext = Set(cipher);
        am.secret_env = Set(env);
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Delete a connection (its links go with it).
    pub async fn delete(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Page through connections ordered by id.
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::Id)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::Id.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }

    /// Every connection in login order (order, then name).
    pub async fn all_ordered(&self, sub: &SubscriptionId) -> Result<Vec<Connection>, StoreError> {
        e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::Position)
            .order_by_asc(e::Column::Name)
            .all(self.c)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// The user linked to (connection, external id).
    pub async fn linked_user(
        &self,
        sub: &SubscriptionId,
        connection_id: &str,
        external_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(l::Entity::find()
            .filter(l::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(l::Column::ConnectionId.eq(connection_id))
            .filter(l::Column::ExternalId.eq(external_id))
            .one(self.c)
            .await?
            .map(|m| m.user_id))
    }

    /// Link (connection, external id) to a user; an existing link of that identity is
    /// `Conflict`.
    pub async fn link(
        &self,
        sub: &SubscriptionId,
        link: &UserLink,
        id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        l::ActiveModel {
            id: Set(id.to_owned()),
            subscription_id: Set(sub.0.clone()),
            connection_id: Set(link.connection_id.clone()),
            external_id: Set(link.external_id.clone()),
            user_id: Set(link.user_id.clone()),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// Remove a user's link to a connection.
    pub async fn unlink(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        let r = l::Entity::delete_many()
            .filter(l::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(l::Column::UserId.eq(user_id))
            .filter(l::Column::ConnectionId.eq(connection_id))
            .exec(self.c)
            .await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// A user's links.
    pub async fn links_of_user(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<Vec<UserLink>, StoreError> {
        Ok(l::Entity::find()
            .filter(l::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(l::Column::UserId.eq(user_id))
            .order_by_asc(l::Column::ConnectionId)
            .all(self.c)
            .await?
            .into_iter()
            .map(|m| UserLink {
                connection_id: m.connection_id,
                external_id: m.external_id,
                user_id: m.user_id,
            })
            .collect())
    }
}
