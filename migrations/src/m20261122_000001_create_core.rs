//! Core schema: subscriptions (tenants), signing keys, clients, users, token families,
//! refresh and opaque tokens, revocations, consents and the audit log.
//!
//! Every tenant table carries `subscription_id` with an index and a foreign key, so that
//! every query can (and must) be scoped to one subscription.

use crate::constraints::{index as tenant_index, tenant_fk};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("subscriptions")
                .col(string("id").primary_key())
                .col(string_uniq("slug"))
                .col(string("name"))
                .col(text("settings"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("signing_keys")
                .col(string("kid").primary_key())
                .col(string("subscription_id"))
                .col(string("alg"))
                .col(string("status"))
                .col(blob("private_key"))
                .col(text("public_jwk"))
                .col(big_integer("created_at"))
                .col(big_integer_null("activated_at"))
                .col(big_integer_null("retired_at"))
                .col(big_integer_null("publish_until"))
                .foreign_key(&mut tenant_fk("signing_keys"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index("signing_keys", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("clients")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("client_id"))
                .col(string("name"))
                .col(string_null("secret_hash"))
                .col(text("redirect_uris"))
                .col(text("post_logout_redirect_uris"))
                .col(text("grant_types"))
                .col(text("scope"))
                .col(string("token_endpoint_auth_method"))
                .col(string("access_token_format"))
                .col(string("access_token_signing_alg"))
                .col(string("id_token_signed_response_alg"))
                .col(boolean("introspection"))
                .col(text("audience"))
                .col(text("allowed_resources"))
                .col(boolean("skip_consent"))
                .col(boolean("ai_access"))
                .col(text_null("jwks"))
                .col(boolean("enabled"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut tenant_fk("clients"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index(
            "clients",
            &["subscription_id", "client_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("username"))
                .col(text_null("password_hash"))
                .col(string_null("email"))
                .col(string_null("name"))
                .col(text("attributes"))
                .col(boolean("system_admin"))
                .col(boolean("subscription_admin"))
                .col(boolean("disabled"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .foreign_key(&mut tenant_fk("users"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index(
            "users",
            &["subscription_id", "username"],
            true,
        ))
        .await?;

        // One row per authorization grant: refresh tokens and the access tokens they mint
        // share it, so reuse detection and revocation kill the whole family at once.
        m.create_table(
            Table::create()
                .table("token_families")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("client_id"))
                .col(string("subject"))
                .col(text("scope"))
                .col(text("claims"))
                .col(big_integer_null("revoked_at"))
                .col(big_integer("created_at"))
                .foreign_key(&mut tenant_fk("token_families"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index(
            "token_families",
            &["subscription_id", "subject"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(string("token_hash").primary_key())
                .col(string("subscription_id"))
                .col(string("family_id"))
                .col(text("scope"))
                .col(big_integer_null("used_at"))
                .col(string_null("successor_hash"))
                .col(big_integer("expires_at"))
                .col(big_integer("created_at"))
                .foreign_key(&mut tenant_fk("refresh_tokens"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_tokens_family")
                        .from("refresh_tokens", "family_id")
                        .to("token_families", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index("refresh_tokens", &["family_id"], false))
            .await?;
        m.create_index(tenant_index("refresh_tokens", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("opaque_tokens")
                .col(string("token_hash").primary_key())
                .col(string("subscription_id"))
                .col(string("jti"))
                .col(string_null("family_id"))
                .col(text("claims"))
                .col(big_integer("expires_at"))
                .foreign_key(&mut tenant_fk("opaque_tokens"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index("opaque_tokens", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("revoked_tokens")
                .col(string("jti").primary_key())
                .col(string("subscription_id"))
                .col(big_integer("expires_at"))
                .foreign_key(&mut tenant_fk("revoked_tokens"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index("revoked_tokens", &["subscription_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("consents")
                .col(string("subscription_id"))
                .col(string("user_id"))
                .col(string("client_id"))
                .col(text("scope"))
                .col(big_integer("created_at"))
                .primary_key(
                    Index::create()
                        .col("subscription_id")
                        .col("user_id")
                        .col("client_id"),
                )
                .foreign_key(&mut tenant_fk("consents"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_events")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(big_integer("seq"))
                .col(big_integer("at"))
                .col(text("actor"))
                .col(string("action"))
                .col(string("target_type"))
                .col(string("target_id"))
                .col(string_null("request_id"))
                .col(string_null("ip"))
                .col(text_null("diff"))
                .foreign_key(&mut tenant_fk("audit_events"))
                .to_owned(),
        )
        .await?;
        m.create_index(tenant_index(
            "audit_events",
            &["subscription_id", "seq"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_events",
            "consents",
            "revoked_tokens",
            "opaque_tokens",
            "refresh_tokens",
            "token_families",
            "users",
            "clients",
            "signing_keys",
            "subscriptions",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
