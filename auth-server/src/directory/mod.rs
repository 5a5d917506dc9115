//! Where identities are verified: local passwords, LDAP and Active Directory
//! directories (search-then-bind over ldap3) and upstream OIDC providers, with the pure
//! rules they share in [`rules`].
pub mod diagnose;
pub mod ldap;
pub mod password;
pub mod rules;
