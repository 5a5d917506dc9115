//! Brute-force defence (SECURITY.md §3): consecutive failed logins per (subscription,
//! normalised login name) and the hard lock set at the 100th, which only an admin lifts.
//! Durable, unlike the five-minute window counters in the ephemeral store: a restart or
//! a flushed Redis must not lift a lock. Keyed by name, not user id, so that directory
//! names never provisioned locally are counted too.

use crate::constraints::{index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("login_locks")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("username"))
                .col(big_integer("failures"))
                .col(big_integer("last_failure_at"))
                .col(big_integer_null("locked_at"))
                .foreign_key(&mut tenant_fk("login_locks"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("login_locks", &["subscription_id", "username"], true))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("login_locks").to_owned())
            .await
    }
}
