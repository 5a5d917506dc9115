//! auth-server: a multi-tenant OAuth 2.1 / OpenID Connect authorization server.
//!
//! Layering (see `shared/STYLE.md`): `http -> service -> {store, cache, tokens, acl,
//! directory} -> domain`. Nothing points upward; sea-orm types stay in `store`,
//! oxide-auth types in `service::oauth::pkce`, actix types in `http` (and in `cli`,
//! which like `startup` sits on top: its admin commands call the `http::admin` routes
//! in-process).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]
// In the release build, rustc's layout query for the token endpoint's `issue` future
// goes 130 queries deep since the cold parts of token issuance are boxed (session 12),
// past the default limit of 128; debug builds and `cargo check` do not reach it.
#![recursion_limit = "256"]

pub mod acl;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod doctor;
pub mod domain;
pub mod http;
pub mod mfa;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod trust;
