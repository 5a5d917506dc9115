//! Federation: identity connections (LDAP, Active Directory, upstream OIDC) per
//! subscription, and the links from a connection's external identity to a local user.
//! A link is keyed by (connection, external id), never by e-mail, so a second identity
//! provider asserting the same address cannot take over an account.

use crate::constraints::{cascade_fk, index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("connections")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("name"))
                .col(string("kind"))
                .col(boolean("enabled"))
                .col(big_integer("position"))
                // Non-secret settings, JSON.
                .col(text("config"))
                // The secret: AES-GCM ciphertext (base64) or the name of an environment
                // variable; never both, never plaintext.
                .col(text_null("secret_ciphertext"))
                .col(string_null("secret_env"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut tenant_fk("connections"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("connections", &["subscription_id", "name"], true))
            .await?;
        m.create_table(
            Table::create()
                .table("user_links")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("connection_id"))
                .col(string("external_id"))
                .col(string("user_id"))
                .col(big_integer("created_at"))
                .foreign_key(&mut tenant_fk("user_links"))
                .foreign_key(&mut cascade_fk(
                    "user_links",
                    "connection_id",
                    "connections",
                    "id",
                ))
                .foreign_key(&mut cascade_fk("user_links", "user_id", "users", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "user_links",
            &["subscription_id", "connection_id", "external_id"],
            true,
        ))
        .await?;
        m.create_index(index("user_links", &["subscription_id", "user_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("user_links").to_owned())
            .await?;
        m.drop_table(Table::drop().table("connections").to_owned())
            .await?;
        Ok(())
    }
}
