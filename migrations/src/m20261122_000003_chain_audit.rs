//! Tamper-evident audit log: each event stores the SHA-256 chaining it to the previous
//! event of its subscription, and `audit_heads` holds each subscription's last sequence
//! number and hash. Appends lock the head row, so events of one subscription get
//! gap-free, commit-ordered sequence numbers on every engine.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_heads")
                .col(string("subscription_id").primary_key())
                .col(big_integer("seq"))
                .col(string("hash"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_audit_heads_subscription")
                        .from("audit_heads", "subscription_id")
                        .to("subscriptions", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table("audit_events")
                .add_column(string_null("prev_hash"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("audit_events")
                .add_column(string_null("hash"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_events_target")
                .table("audit_events")
                .col("subscription_id")
                .col("target_type")
                .col("target_id")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_audit_events_target")
                .table("audit_events")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("audit_events")
                .drop_column("hash")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("audit_events")
                .drop_column("prev_hash")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("audit_heads").to_owned())
            .await
    }
}
