//! RFC 7591/7592 dynamic registration: a registered client carries the SHA-256 of its
//! registration access token (NULL for clients an admin created), which also marks it
//! as registered for the per-subscription quota and the admin listing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("clients")
                .add_column(string_null("registration_token_hash"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("clients")
                .drop_column("registration_token_hash")
                .to_owned(),
        )
        .await
    }
}
