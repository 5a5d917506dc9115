//! ACL schema (DESIGN.md "ACL model"): workspaces, their participants, groups and group
//! members, apps (grants and field policies as JSON text, validated by the server on
//! write), and run-as grants.
//!
//! Every table carries `subscription_id` with an index and a cascading foreign key, like
//! the core tables. Rows that belong to a workspace, a group or a user cascade with it,
//! so deleting any of them leaves nothing dangling that a later namesake could inherit.

use crate::constraints::{cascade_fk as fk, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 6] = [
    "acl_run_as_grants",
    "acl_apps",
    "acl_group_members",
    "acl_groups",
    "acl_participants",
    "acl_workspaces",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("acl_workspaces")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("slug"))
                .col(string("name"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut fk(
                    "acl_workspaces",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("acl_workspaces", &["subscription_id", "slug"], true))
            .await?;

        m.create_table(
            Table::create()
                .table("acl_participants")
                .col(string("workspace_id"))
                .col(string("user_id"))
                .col(string("subscription_id"))
                .col(string("role"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("workspace_id").col("user_id"))
                .foreign_key(&mut fk(
                    "acl_participants",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .foreign_key(&mut fk(
                    "acl_participants",
                    "workspace_id",
                    "acl_workspaces",
                    "id",
                ))
                .foreign_key(&mut fk("acl_participants", "user_id", "users", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "acl_participants",
            &["subscription_id", "user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("acl_groups")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("workspace_id"))
                .col(string("name"))
                .col(big_integer("created_at"))
                .foreign_key(&mut fk(
                    "acl_groups",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .foreign_key(&mut fk(
                    "acl_groups",
                    "workspace_id",
                    "acl_workspaces",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("acl_groups", &["workspace_id", "name"], true))
            .await?;
        m.create_index(index("acl_groups", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("acl_group_members")
                .col(string("group_id"))
                .col(string("user_id"))
                .col(string("subscription_id"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("group_id").col("user_id"))
                .foreign_key(&mut fk(
                    "acl_group_members",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .foreign_key(&mut fk("acl_group_members", "group_id", "acl_groups", "id"))
                .foreign_key(&mut fk("acl_group_members", "user_id", "users", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "acl_group_members",
            &["subscription_id", "user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("acl_apps")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("workspace_id"))
                .col(string("slug"))
                .col(string("name"))
                .col(text("grants"))
                .col(text("fields"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut fk(
                    "acl_apps",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .foreign_key(&mut fk("acl_apps", "workspace_id", "acl_workspaces", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("acl_apps", &["workspace_id", "slug"], true))
            .await?;
        m.create_index(index("acl_apps", &["subscription_id"], false))
            .await?;

        // A principal is a user or a client; a target is a user, a group or everyone
        // (`target_kind` = user | group | all). Client principals are not a foreign key:
        // clients are keyed by their row id, and the service deletes a client's grants.
        m.create_table(
            Table::create()
                .table("acl_run_as_grants")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string_null("principal_user_id"))
                .col(string_null("principal_client_id"))
                .col(string("target_kind"))
                .col(string_null("target_user_id"))
                .col(string_null("target_group_id"))
                .col(big_integer("created_at"))
                .foreign_key(&mut fk(
                    "acl_run_as_grants",
                    "subscription_id",
                    "subscriptions",
                    "id",
                ))
                .foreign_key(&mut fk(
                    "acl_run_as_grants",
                    "principal_user_id",
                    "users",
                    "id",
                ))
                .foreign_key(&mut fk(
                    "acl_run_as_grants",
                    "target_user_id",
                    "users",
                    "id",
                ))
                .foreign_key(&mut fk(
                    "acl_run_as_grants",
                    "target_group_id",
                    "acl_groups",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "acl_run_as_grants",
            &["subscription_id", "principal_user_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "acl_run_as_grants",
            &["subscription_id", "principal_client_id"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
