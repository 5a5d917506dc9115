//! The one end-to-end test binary: one module per feature.
mod acl_admin;
mod acl_cache;
mod acl_evaluate;
mod admin_api;
mod audit;
mod client_credentials;
mod code_flow;
mod code_negatives;
mod discovery;
mod introspect_acl;
mod keys;
mod node_rp;
mod refresh;
mod run_as;
mod scale;
mod sessions;
mod tenancy;
