//! At most one `active` and one `next` signing key per (subscription, algorithm)
//! (issue 10 point 3): RS256 keys are now made on first use (JWKS request or signature),
//! and instances sharing a database may race to make them. This partial unique index
//! lets exactly one pair in; the loser's insert fails and it reads the winner's. Retired
//! keys are not constrained (several stay published after rotations).

use sea_orm_migration::prelude::*;

const INDEX: &str = "ux_signing_keys_live";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEX)
                .table("signing_keys")
                .col("subscription_id")
                .col("alg")
                .col("status")
                .unique()
                .and_where(Expr::col("status").ne("retired"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table("signing_keys").to_owned())
            .await
    }
}
