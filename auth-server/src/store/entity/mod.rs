//! sea-orm entities, one file per table. Crate-private: nothing outside `store/` sees them.
pub(crate) mod acl_app;
pub(crate) mod acl_group;
pub(crate) mod acl_group_member;
pub(crate) mod acl_participant;
pub(crate) mod acl_run_as_grant;
pub(crate) mod acl_workspace;
pub(crate) mod audit_event;
pub(crate) mod audit_head;
pub(crate) mod client;
pub(crate) mod consent;
pub(crate) mod opaque_token;
pub(crate) mod refresh_token;
pub(crate) mod revoked_token;
pub(crate) mod signing_key;
pub(crate) mod subscription;
pub(crate) mod token_family;
pub(crate) mod user;
