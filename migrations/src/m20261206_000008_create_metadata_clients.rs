//! Client ID Metadata Document clients a subscription has issued tokens to (issue 6
//! point 1): such clients are never registered, so without this table an admin could
//! neither see them nor revoke their tokens. One row per (subscription, document URL),
//! with first and last use, and the admin block that refuses the URL until lifted.

use crate::constraints::{index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("metadata_clients")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("client_id"))
                .col(string("host"))
                .col(string("name"))
                .col(big_integer("first_used_at"))
                .col(big_integer("last_used_at"))
                .col(big_integer_null("blocked_at"))
                .foreign_key(&mut tenant_fk("metadata_clients"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "metadata_clients",
            &["subscription_id", "client_id"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("metadata_clients").to_owned())
            .await
    }
}
