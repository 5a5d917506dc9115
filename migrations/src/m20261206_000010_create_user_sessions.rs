//! The index of browser sessions by user (issue 11, the console's user sessions): the
//! sessions themselves live in the ephemeral store under the SHA-256 of their cookie,
//! which cannot be enumerated by user. One row per session: its public `sid`, the hash
//! that names its cache entry (so an admin sign-out can delete it), how the user
//! authenticated, and the browser's IP address and user agent. Rows go at logout, admin sign-out, user deletion (cascade) and, once
//! expired, in the housekeeping sweep.

use crate::constraints::{cascade_fk, index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("user_sessions")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("user_id"))
                .col(string("key_hash"))
                .col(big_integer("auth_time"))
                .col(text("amr"))
                .col(string_null("acr"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(string_null("ip"))
                .col(text_null("user_agent"))
                .foreign_key(&mut tenant_fk("user_sessions"))
                .foreign_key(&mut cascade_fk("user_sessions", "user_id", "users", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "user_sessions",
            &["subscription_id", "user_id"],
            false,
        ))
        .await?;
        m.create_index(index("user_sessions", &["key_hash"], true))
            .await?;
        m.create_index(index("user_sessions", &["expires_at"], false))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("user_sessions").to_owned())
            .await
    }
}
