//! Where identities are verified: local passwords now; LDAP, Active Directory and
//! upstream OIDC connectors live beside it.
pub mod password;
