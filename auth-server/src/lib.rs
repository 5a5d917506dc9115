//! auth-server: a multi-tenant OAuth 2.1 / OpenID Connect authorization server.
//!
//! Layering (see `shared/STYLE.md`): `http -> service -> {store, cache, tokens, acl} -> domain`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod acl;
pub mod tokens;
