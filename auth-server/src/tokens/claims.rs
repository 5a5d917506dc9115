//! Token claim sets: RFC 9068 JWT access tokens and OIDC Core §2 ID tokens, plus `at_hash`
//! (OIDC Core §3.1.3.6).
//!
//! Times are unix seconds (`i64`), as handed in by the service from its clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use super::keys::Alg;

/// The `aud` claim: one or more audiences. One audience serializes as a plain string
/// (RFC 7519 §4.1.3 allows both; single strings are what most resource servers expect),
/// several as an array. Both forms deserialize.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// A single audience.
    pub fn one(aud: impl Into<String>) -> Audience {
        Audience(vec![aud.into()])
    }

    /// Whether `aud` is one of the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        self.0.iter().any(|a| a == aud)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [single] => serializer.serialize_str(single),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => Audience(vec![one]),
            OneOrMany::Many(many) => Audience(many),
        })
    }
}

/// Claims of a JWT access token (RFC 9068 §2.2) as this server issues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The tenant's issuer URL.
    pub iss: String,
    /// The user id, or the client id for `client_credentials`.
    pub sub: String,
    /// The resource(s) (RFC 8707) or the client's audience list, else its `client_id`.
    pub aud: Audience,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Not before, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id (for single-token revocation and replay detection).
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated (RFC 9068 §2.2.3); omitted when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The subscription (tenant) slug.
    pub sub_tenant: String,
    /// When the user authenticated, unix seconds (user-delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods (`pwd`, `otp`, `fed`, upstream values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The actor (RFC 8693 §4.1) when the token was issued by run-as / token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// Grant family id. Every token that descends from one grant (a code redemption and
    /// its whole refresh chain) carries the same `gid`. A replayed code or refresh token
    /// revokes the family (DESIGN.md), and a self-contained JWT cannot be recalled, so
    /// introspection and the ACL endpoint reject JWTs whose `gid` is in the revoked-family
    /// set: one row per grant instead of one per `jti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

impl AccessTokenClaims {
    /// The granted scopes as tokens.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// Claims that [`IdTokenClaims::extra`] must not carry, because a struct field already
/// serializes them (a duplicate JSON member is ambiguous to relying parties).
pub const RESERVED_ID_TOKEN_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "azp",
    "sid",
    "nbf",
];

/// Claims of an ID token (OIDC Core §2, §3.1.3.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The tenant's issuer URL.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The client id (OIDC requires it among the audiences).
    pub aud: Audience,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// When the user authenticated, unix seconds.
    pub auth_time: i64,
    /// The `nonce` of the authorization request, echoed to bind the token to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Hash of the access token issued alongside ([`at_hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authorized party: the client id, when `aud` has several values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Session id (OIDC Front/Back-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Profile and email claims allowed by the granted scopes. Use
    /// [`IdTokenClaims::insert_extra`], which refuses [`RESERVED_ID_TOKEN_CLAIMS`].
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IdTokenClaims {
    /// Adds a profile/email claim; returns `false` (and adds nothing) for a reserved name,
    /// so that a mapped directory attribute can never override `sub`, `aud` or the like.
    pub fn insert_extra(&mut self, name: impl Into<String>, value: Value) -> bool {
        let name = name.into();
        if RESERVED_ID_TOKEN_CLAIMS.contains(&name.as_str()) {
            return false;
        }
        self.extra.insert(name, value);
        true
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of the ASCII
/// access token, with the hash of the ID token's `alg`. Also the rule for `c_hash`.
///
/// RS256 and ES256 use SHA-256 (16 bytes kept). EdDSA names no hash; the OpenID
/// Foundation's resolution (connect issue 1125, followed by openidconnect-rs, zitadel and
/// others) is the hash Ed25519 itself uses, SHA-512, so 32 bytes are kept. Some relying
/// party libraries (e.g. older PyJWT-based ones) cannot check `at_hash` for EdDSA at all,
/// which is one more reason RS256 stays the ID-token default.
pub fn at_hash(access_token: &str, alg: Alg) -> String {
    match alg {
        Alg::RS256 | Alg::ES256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
        }
        Alg::EdDSA => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://idp.test/t/acme".into(),
            sub: "u1".into(),
            aud: Audience::one("https://api.test"),
            exp: 1_700_000_300,
            iat: 1_700_000_000,
            nbf: None,
            jti: "j1".into(),
            client_id: "c1".into(),
            scope: String::new(),
            sub_tenant: "acme".into(),
            auth_time: None,
            acr: None,
            amr: None,
            act: None,
            gid: None,
        }
    }

    #[test]
    fn a_single_audience_serializes_as_a_string_and_several_as_an_array() {
        let mut claims = access();
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["aud"], "https://api.test");
        claims.aud = Audience(vec!["a".into(), "b".into()]);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["aud"], json!(["a", "b"]));
        let back: AccessTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back.aud, claims.aud);
        let one: Audience = serde_json::from_value(json!("x")).unwrap();
        assert!(one.contains("x"));
    }

    #[test]
    fn empty_scope_and_absent_options_are_omitted() {
        let json = serde_json::to_value(access()).unwrap();
        let object = json.as_object().unwrap();
        for absent in ["scope", "nbf", "auth_time", "acr", "amr", "act", "gid"] {
            assert!(!object.contains_key(absent), "{absent}");
        }
        let mut claims = access();
        claims.scope = "openid  mcp".into();
        claims.gid = Some("g1".into());
        claims.act = Some(json!({"sub": "admin-1"}));
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["scope"], "openid  mcp");
        assert_eq!(json["act"]["sub"], "admin-1");
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["openid", "mcp"]);
        let back: AccessTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back, claims);
    }

    #[test]
    fn id_token_extra_claims_flatten_and_reserved_names_are_refused() {
        let mut claims = IdTokenClaims {
            iss: "https://idp.test/t/acme".into(),
            sub: "u1".into(),
            aud: Audience::one("c1"),
            exp: 2,
            iat: 1,
            auth_time: 1,
            nonce: Some("n-0S6_WzA2Mj".into()),
            acr: None,
            amr: Some(vec!["pwd".into(), "otp".into()]),
            at_hash: None,
            azp: None,
            sid: None,
            extra: Map::new(),
        };
        assert!(claims.insert_extra("email", json!("a@b.test")));
        assert!(!claims.insert_extra("sub", json!("someone-else")));
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["email"], "a@b.test");
        assert_eq!(json["sub"], "u1");
        assert_eq!(json["aud"], "c1");
        assert!(json.get("acr").is_none());
        let back: IdTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back, claims);
    }

    #[test]
    fn at_hash_matches_known_vectors() {
        // Computed independently (Python hashlib): base64url(SHA-256(token)[..16]) and
        // base64url(SHA-512(token)[..32]).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNQnASY3UqKP4M6bCYP8";
        assert_eq!(at_hash(token, Alg::RS256), "QQ7syVtenlE_ihc-9I8Ljw");
        assert_eq!(at_hash(token, Alg::ES256), "QQ7syVtenlE_ihc-9I8Ljw");
        assert_eq!(
            at_hash(token, Alg::EdDSA),
            "Pt8sR-UCLhbIjFjSnaTsDo300Izs7YEzF_eQqyiImk8"
        );
        let token = "dNZX1hEZ9wBCzNL40Upu646bdzQA";
        assert_eq!(at_hash(token, Alg::RS256), "wfgvmE9VxjAudsl9lc6TqA");
    }
}
