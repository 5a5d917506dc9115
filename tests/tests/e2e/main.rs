//! The one end-to-end test binary: one module per feature.
mod admin_api;
mod audit;
mod client_credentials;
mod code_flow;
mod code_negatives;
mod discovery;
mod keys;
mod node_rp;
mod refresh;
mod scale;
mod sessions;
mod tenancy;
