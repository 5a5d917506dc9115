//! The authorization request after the client and redirect URI are known: any query
//! either fails with an error for the client's registered redirect URI, or yields a
//! request that carries an S256 PKCE challenge and only scopes the client may have.
#![no_main]

use auth_server::domain::{
    Client, Scope, Slug, Subscription, SubscriptionId, SubscriptionSettings,
};
use auth_server::http::admin::decode;
use auth_server::http::admin::dto::ClientBody;
use auth_server::http::extract::Params;
use auth_server::service::oauth::authorize::validate_request;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const REDIRECT: &str = "https://c1.example/cb";

static FIXTURE: LazyLock<(Subscription, Client)> = LazyLock::new(|| {
    let sub = Subscription {
        id: SubscriptionId("00000000-0000-0000-0000-000000000001".into()),
        slug: Slug::parse("acme", "slug").unwrap(),
        name: "Acme".into(),
        settings: SubscriptionSettings::default(),
        created_at: 0,
        dedicated_database: false,
    };
    let body: ClientBody = decode(
        br#"{"name":"web","redirect_uris":["https://c1.example/cb"],
             "grant_types":["authorization_code","refresh_token"],
             "scope":"openid profile email offline_access read",
             "token_endpoint_auth_method":"client_secret_basic"}"#,
    )
    .unwrap();
    let (name, spec, ai_access) = body.into_spec().unwrap();
    let client = Client {
        client_id: "web".into(),
        name,
        secret_hash: None,
        spec,
        ai_access,
        enabled: true,
    };
    (sub, client)
});

fuzz_target!(|query: &str| {
    let Ok(params) = Params::parse(query) else {
        return;
    };
    let (sub, client) = &*FIXTURE;
    match validate_request(sub, client, REDIRECT.to_owned(), &params.map) {
        Ok(req) => {
            assert_eq!(req.redirect_uri, REDIRECT);
            assert!(!req.pkce.is_empty(), "no PKCE challenge: {query}");
            let scope = Scope::parse(&req.scope).expect("a granted scope parses");
            assert!(
                scope.is_subset(&client.spec.scope),
                "scope {} beyond the client's",
                req.scope
            );
        }
        Err(e) => assert_eq!(e.redirect_uri, REDIRECT),
    }
});
