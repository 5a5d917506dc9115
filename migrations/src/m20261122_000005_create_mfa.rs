//! Two-factor authentication: one TOTP credential per user (secret encrypted with the
//! master key; `last_used_step` is the replay guard, advanced by compare-and-set),
//! the user's recovery codes (SHA-256 hashes, single use), and per-group 2FA policy
//! overrides.

use crate::constraints::{cascade_fk, index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("mfa_totp")
                .col(string("user_id").primary_key())
                .col(string("subscription_id"))
                .col(text("secret"))
                .col(big_integer_null("confirmed_at"))
                .col(big_integer_null("last_used_step"))
                .col(big_integer("created_at"))
                .foreign_key(&mut tenant_fk("mfa_totp"))
                .foreign_key(&mut cascade_fk("mfa_totp", "user_id", "users", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("mfa_totp", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("mfa_recovery_codes")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("user_id"))
                .col(string("code_hash"))
                .col(big_integer_null("used_at"))
                .col(big_integer("created_at"))
                .foreign_key(&mut tenant_fk("mfa_recovery_codes"))
                .foreign_key(&mut cascade_fk(
                    "mfa_recovery_codes",
                    "user_id",
                    "users",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("mfa_recovery_codes", &["user_id", "code_hash"], true))
            .await?;
        m.create_index(index("mfa_recovery_codes", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("mfa_group_policies")
                .col(string("group_id").primary_key())
                .col(string("subscription_id"))
                .col(string("policy"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut tenant_fk("mfa_group_policies"))
                .foreign_key(&mut cascade_fk(
                    "mfa_group_policies",
                    "group_id",
                    "acl_groups",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("mfa_group_policies", &["subscription_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["mfa_group_policies", "mfa_recovery_codes", "mfa_totp"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
