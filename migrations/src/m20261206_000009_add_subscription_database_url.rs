//! Dedicated database per subscription (issue 8 point 6): a subscription may name its
//! own database, stored encrypted under the master key (base64 of the sealed URL; the
//! URL may carry a password). NULL: its tenant data lives in the shared database. In a
//! dedicated database the same schema holds the subscription's anchor row with NULL here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("subscriptions")
                .add_column(string_null("database_url_ciphertext"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("subscriptions")
                .drop_column("database_url_ciphertext")
                .to_owned(),
        )
        .await
    }
}
