//! Table `clients`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub subscription_id: String,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scope: String,
    pub token_endpoint_auth_method: String,
    pub access_token_format: String,
    pub access_token_signing_alg: String,
    pub id_token_signed_response_alg: String,
    pub introspection: bool,
    pub audience: String,
    pub allowed_resources: String,
    pub skip_consent: bool,
    pub ai_access: bool,
    pub jwks: Option<String>,
    pub enabled: bool,
    pub registration_token_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
