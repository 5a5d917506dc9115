//! AI agent (MCP) access: the `mcp` scope only for AI clients, audience binding by RFC
//! 8707 resource indicators on every grant, admin listing/rotation/deletion of AI
//! clients, and per-client token quotas.

use auth_server::clock::Clock;
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    an_ordinary_client_asking_for_mcp_gets_invalid_scope,
    the_minted_mcp_client_gets_a_token_bound_to_the_subscriptions_mcp_resource,
    admins_list_rotate_and_delete_ai_clients,
    ai_clients_over_their_quota_get_slow_down,
    code_and_refresh_grants_may_narrow_the_resource_but_never_widen_it,
);

const MCP_RESOURCE: &str = "https://mcp.acme.example/mcp";

/// The `aud` claim as a list, whether sent as a string or an array.
fn aud(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// A subscription with its minted MCP client, registered MCP resource and a
/// tenant-wide introspector.
async fn mcp_tenant(app: &TestApp, slug: &str) -> (TestClient, TestClient) {
    let created = app.create_subscription(slug).await;
    let mcp = TestClient {
        id: created["mcp_client"]["client_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret: created["mcp_client"]["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/{slug}"),
            Some(json!({"settings": {"mcp_resources": [MCP_RESOURCE]}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rs = app
        .create_client(slug, json!({"name": "mcp-server", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
        .await;
    (mcp, rs)
}

async fn mcp_token(
    app: &TestApp,
    slug: &str,
    c: &TestClient,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.token(slug, &c.id, &c.secret, &form).await
}

async fn an_ordinary_client_asking_for_mcp_gets_invalid_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let svc = app
        .create_client("acme", json!({"name": "svc", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let (s, b) = mcp_token(&app, "acme", &svc, &[("scope", "mcp")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "{b}"
    );

    // An admin cannot hand `mcp` to a client without marking it for AI access.
    let t = app.system_token().await;
    let (s, b) = app
        .admin(&t, Method::POST, "/subscriptions/acme/clients", Some(json!({"name": "x", "grant_types": ["client_credentials"], "scope": "mcp", "token_endpoint_auth_method": "client_secret_basic"})))
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("scope")),
        "{b}"
    );

    // Nor does a browser client get it at /authorize: the error goes back to the client.
    let web = app.web_client("acme").await;
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &web.id, &challenge, &[("scope", "openid mcp")]);
    let resp = app.new_browser().get(url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope"),
        "{location}"
    );
}

async fn the_minted_mcp_client_gets_a_token_bound_to_the_subscriptions_mcp_resource(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (mcp, rs) = mcp_tenant(&app, "acme").await;
    let (s, t) = mcp_token(
        &app,
        "acme",
        &mcp,
        &[("scope", "mcp"), ("resource", MCP_RESOURCE)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    let i = app.introspect("acme", &rs, at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "mcp");
    assert_eq!(
        aud(&i["aud"]),
        vec![MCP_RESOURCE.to_owned()],
        "aud is exactly the resource"
    );

    // `mcp` never implies admin: neither as a scope nor at the admin API.
    let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp admin")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (s, _) = app
        .admin(at, Method::GET, "/subscriptions/acme/clients", None)
        .await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED,
        "{s}"
    );

    // Resources that are not registered, relative or carry a fragment are invalid_target.
    for bad in [
        "https://other.example/mcp",
        "mcp",
        "https://mcp.acme.example/mcp#x",
    ] {
        let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp"), ("resource", bad)]).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_target")),
            "{bad}: {b}"
        );
    }

    // A token of another subscription is unknown here.
    let (other_mcp, _) = mcp_tenant(&app, "globex").await;
    let (s, t2) = mcp_token(
        &app,
        "globex",
        &other_mcp,
        &[("scope", "mcp"), ("resource", MCP_RESOURCE)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let i = app
        .introspect("acme", &rs, t2["access_token"].as_str().unwrap())
        .await;
    assert_eq!(i, json!({"active": false}));
}

async fn admins_list_rotate_and_delete_ai_clients(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (mcp, rs) = mcp_tenant(&app, "acme").await;
    let t = app.system_token().await;
    let (s, b) = app.admin(&t, Method::POST, "/subscriptions/acme/clients", Some(json!({"name": "agent", "grant_types": ["client_credentials"], "scope": "mcp", "token_endpoint_auth_method": "client_secret_basic", "ai_access": true}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let agent = TestClient {
        id: b["client_id"].as_str().unwrap().to_owned(),
        secret: b["client_secret"].as_str().unwrap().to_owned(),
    };
    let (s, list) = app
        .admin(&t, Method::GET, "/subscriptions/acme/ai-clients", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![mcp.id.as_str(), agent.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "only AI clients are listed");
    assert!(
        list.to_string().find("secret\":\"").is_none(),
        "no secrets in listings"
    );

    // Rotation: the old secret stops working at once.
    let (s, r) = app
        .admin(
            &t,
            Method::POST,
            &format!("/subscriptions/acme/clients/{}/rotate-secret", agent.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = mcp_token(
        &app,
        "acme",
        &agent,
        &[("scope", "mcp"), ("resource", MCP_RESOURCE)],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let agent = TestClient {
        id: agent.id,
        secret: r["client_secret"].as_str().unwrap().to_owned(),
    };
    let mut tokens = vec![];
    for format in ["jwt", "jwt"] {
        let (s, b) = mcp_token(
            &app,
            "acme",
            &agent,
            &[("scope", "mcp"), ("resource", MCP_RESOURCE)],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{format}: {b}");
        tokens.push(b["access_token"].as_str().unwrap().to_owned());
    }
    for at in &tokens {
        assert_eq!(app.introspect("acme", &rs, at).await["active"], true);
    }
    // DELETE revokes the client and every token issued to it.
    let (s, _) = app
        .admin(
            &t,
            Method::DELETE,
            &format!("/subscriptions/acme/clients/{}", agent.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for at in &tokens {
        assert_eq!(
            app.introspect("acme", &rs, at).await,
            json!({"active": false})
        );
    }
    let (s, _) = mcp_token(&app, "acme", &agent, &[("scope", "mcp")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn ai_clients_over_their_quota_get_slow_down(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (mcp, _) = mcp_tenant(&app, "acme").await;
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mcp_tokens_per_minute": 0}})),
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("settings.mcp_tokens_per_minute")
        )
    );
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mcp_tokens_per_minute": 3, "mcp_max_active_tokens": 5}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Start at a minute boundary so the three requests share one window.
    let now = app.clock.now();
    app.clock.advance(60 - now.rem_euclid(60));
    for _ in 0..3 {
        let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp")]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&mcp.id, Some(&mcp.secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "mcp")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // The window began at a minute boundary; the test clock still follows real time, so
    // the requests above may have taken a few of its seconds.
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry), "Retry-After {retry}");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"], "slow_down");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("3 per minute"),
        "{b}"
    );

    // Next minute: two more fit under the cap of five active tokens, the sixth does not.
    app.clock.advance(60);
    for _ in 0..2 {
        let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp")]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("slow_down")),
        "{b}"
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("active access tokens"),
        "{b}"
    );

    // Once the first tokens expire (access-token lifetime: 300 s) there is room again.
    app.clock.advance(300);
    let (s, b) = mcp_token(&app, "acme", &mcp, &[("scope", "mcp")]).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Ordinary clients are not limited by the AI quotas.
    let svc = app.create_client("acme", json!({"name": "svc", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"})).await;
    for _ in 0..6 {
        let (s, _) = mcp_token(&app, "acme", &svc, &[("scope", "read")]).await;
        assert_eq!(s, StatusCode::OK);
    }
}

async fn code_and_refresh_grants_may_narrow_the_resource_but_never_widen_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (a, b, c) = (
        "https://a.example/mcp",
        "https://b.example/mcp",
        "https://c.example/mcp",
    );
    app.create_subscription("acme").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    let web = app
        .create_client("acme", json!({"name": "web", "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code", "refresh_token"],
               "scope": "openid profile offline_access", "token_endpoint_auth_method": "client_secret_basic", "introspection": true, "allowed_resources": [a, b, c]}))
        .await;

    // /authorize refuses a resource the client may not use, back at the client.
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &web.id,
        &challenge,
        &[("resource", "https://evil.example/")],
    );
    let resp = app.new_browser().get(url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_target"),
        "{location}"
    );

    let login = |extra: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let web = &web;
        async move {
            let (verifier, challenge) = pkce_pair();
            let mut params = vec![("resource", a), ("resource", b)];
            params.extend(extra);
            let url = app.authorize_url("acme", &web.id, &challenge, &params);
            let redirect = app
                .browser_login(&app.new_browser(), &url, "alice", "correct horse battery")
                .await;
            (
                query_param(&redirect, "code").unwrap_or_else(|| panic!("{redirect}")),
                verifier,
            )
        }
    };
    // The code exchange cannot add c, which was not authorized.
    let (code, verifier) = login(vec![]).await;
    let (s, body) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", &verifier),
                ("resource", c),
            ],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "{body}"
    );

    // It can narrow to a.
    let (code, verifier) = login(vec![]).await;
    let (s, t0) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", &verifier),
                ("resource", a),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t0}");
    let i = app
        .introspect("acme", &web, t0["access_token"].as_str().unwrap())
        .await;
    assert_eq!(aud(&i["aud"]), vec![a.to_owned()]);

    // A refresh may pick b out of the original grant, but not c.
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let (s, body) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt0),
                ("resource", c),
            ],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "{body}"
    );
    let (s, t1) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt0),
                ("resource", b),
            ],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the refused widening did not use up the refresh token: {t1}"
    );
    let i = app
        .introspect("acme", &web, t1["access_token"].as_str().unwrap())
        .await;
    assert_eq!(aud(&i["aud"]), vec![b.to_owned()]);
    // Without `resource`, the refresh gets the whole original grant again.
    let (s, t2) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t1["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let i = app
        .introspect("acme", &web, t2["access_token"].as_str().unwrap())
        .await;
    assert_eq!(aud(&i["aud"]), vec![a.to_owned(), b.to_owned()]);
}
