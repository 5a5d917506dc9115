//! SECURITY.md §6 bad-input rows that were only partly asserted: §6.2 `/token`, §6.3
//! `/introspect` and `/revoke`, §6.5 the admin API; each listed input gets the exact
//! status and error code of its row. Plus §5.1 T12's lint half: no raw sea-orm query
//! outside the tenant-scoped repositories.

use crate::rfc9700_rows::{PW, code_for, redeem_form, revoke, tenant_admin};
use crate::security_rows::jwt_part;
use base64::Engine;
use e2e::{Backend, TestApp, TestClient, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    s6_2_grant_types_and_client_authentication_get_the_listed_errors,
    s6_2_codes_verifiers_and_refresh_tokens_get_the_listed_errors,
    s6_3_introspection_bad_inputs_get_the_listed_answers,
    s6_3_revocation_bad_inputs_get_the_listed_answers,
    s6_5_admin_api_bad_inputs_get_the_listed_answers,
);

/// A raw POST to `/t/acme/{endpoint}`: (status, `WWW-Authenticate`, JSON body).
async fn post_raw(
    app: &TestApp,
    endpoint: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app
        .http
        .post(format!("{}/t/acme/{endpoint}", app.base))
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

const FORM: &str = "application/x-www-form-urlencoded";

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn basic_of(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn basic_raw(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

#[track_caller]
fn assert_error(got: &(StatusCode, Option<String>, Value), status: StatusCode, error: &str) {
    assert_eq!(
        (got.0, got.2["error"].as_str()),
        (status, Some(error)),
        "{:?}",
        got
    );
}

async fn s6_2_grant_types_and_client_authentication_get_the_listed_errors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let web = app.tenant_with_alice("acme").await;
    let svc = app.create_client("acme", json!({"name": "s", "grant_types": ["client_credentials"], "scope": "read write", "token_endpoint_auth_method": "client_secret_basic"})).await;
    let public = app.create_client("acme", json!({"name": "p", "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code"], "scope": "openid", "token_endpoint_auth_method": "none"})).await;
    let auth = basic_of(&svc.id, &svc.secret);
    let cc = form(&[("grant_type", "client_credentials")]);

    // GET: 405.
    let resp = app
        .http
        .get(format!(
            "{}/t/acme/token?grant_type=client_credentials",
            app.base
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "POST");
    // JSON instead of a form, and an empty body: invalid_request.
    let json_body = json!({"grant_type": "client_credentials"}).to_string();
    for (ct, body) in [("application/json", json_body.as_str()), (FORM, "")] {
        let got = post_raw(&app, "token", Some(&auth), ct, body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // grant_type missing: invalid_request; unknown or removed: unsupported_grant_type.
    let got = post_raw(
        &app,
        "token",
        Some(&auth),
        FORM,
        &form(&[("scope", "read")]),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    for grant in ["foo", "password", "implicit"] {
        let body = form(&[
            ("grant_type", grant),
            ("username", "alice"),
            ("password", PW),
        ]);
        let got = post_raw(&app, "token", Some(&auth), FORM, &body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // A public client asking for client_credentials: unauthorized_client.
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &public.id),
    ]);
    let got = post_raw(&app, "token", None, FORM, &body).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "unauthorized_client");
    // A client without the grant (web has no client_credentials): unauthorized_client.
    let got = post_raw(
        &app,
        "token",
        Some(&basic_of(&web.id, &web.secret)),
        FORM,
        &cc,
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "unauthorized_client");

    // Client authentication failures: 401 invalid_client, with a Basic challenge when
    // the Authorization header was used.
    let wrong = basic_of(&svc.id, "wrong");
    let unknown = basic_of("no-such-client", &svc.secret);
    let no_colon = basic_raw(&svc.id);
    for (case, header) in [
        ("wrong secret", wrong.as_str()),
        ("unknown client", unknown.as_str()),
        ("bad base64", "Basic !!!not-base64!!!"),
        ("no colon", no_colon.as_str()),
    ] {
        let got = post_raw(&app, "token", Some(header), FORM, &cc).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(
            got.1.as_deref().is_some_and(|c| c.starts_with("Basic")),
            "{case}: {got:?}"
        );
    }
    // No client authentication at all from a confidential client.
    for body in [
        cc.clone(),
        form(&[("grant_type", "client_credentials"), ("client_id", &svc.id)]),
    ] {
        let got = post_raw(&app, "token", None, FORM, &body).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // Two methods, a differing client_id, a duplicated parameter: invalid_request.
    for body in [
        form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &svc.secret),
        ]),
        form(&[("grant_type", "client_credentials"), ("client_id", &web.id)]),
        format!("{cc}&scope=read&scope=read"),
        format!("{cc}&{cc}"),
    ] {
        let got = post_raw(&app, "token", Some(&auth), FORM, &body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Every success: no-store, Bearer, and the scope stated when narrowed.
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .header("authorization", &auth)
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "read");
}

async fn s6_2_codes_verifiers_and_refresh_tokens_get_the_listed_errors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let c2 = app.web_client("acme").await;
    let redeem = |code: &str, verifier: &str| {
        redeem_form(code, verifier, "https://c1.example/cb")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let send = |client: &TestClient, pairs: Vec<(String, String)>| {
        let app = &app;
        let client = client.clone();
        async move {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.token("acme", &client.id, &client.secret, &pairs).await
        }
    };
    let expect = |got: (StatusCode, Value), error: &str, case: &str| {
        assert_eq!(
            (got.0, got.1["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{case}: {}",
            got.1
        );
    };

    // code missing: invalid_request.
    let (_, verifier, _) = code_for(&app, &c).await;
    let mut pairs = redeem("x", &verifier);
    pairs.retain(|(k, _)| k != "code");
    expect(send(&c, pairs).await, "invalid_request", "code missing");
    // random: invalid_grant.
    expect(
        send(&c, redeem("c0ffee-not-a-code", &verifier)).await,
        "invalid_grant",
        "random code",
    );
    // another client's code, then the same code with a wrong redirect_uri, verifier
    // missing, verifier wrong: invalid_grant. (Another tenant's code: rfc9700_rows::c3.)
    let (code, verifier, _) = code_for(&app, &c).await;
    expect(
        send(&c2, redeem(&code, &verifier)).await,
        "invalid_grant",
        "other client",
    );
    let (code, verifier, _) = code_for(&app, &c).await;
    let mut pairs = redeem(&code, &verifier);
    pairs[2].1 = "http://127.0.0.1/cb".into();
    expect(
        send(&c, pairs).await,
        "invalid_grant",
        "redirect_uri mismatch",
    );
    let (code, verifier, _) = code_for(&app, &c).await;
    let mut pairs = redeem(&code, &verifier);
    pairs.retain(|(k, _)| k != "code_verifier");
    expect(send(&c, pairs).await, "invalid_grant", "verifier missing");
    let (code, _, _) = code_for(&app, &c).await;
    expect(
        send(&c, redeem(&code, &"w".repeat(43))).await,
        "invalid_grant",
        "verifier wrong",
    );
    // A verifier of 42 or 129 characters is malformed: invalid_request.
    for n in [42, 129] {
        let (code, _, _) = code_for(&app, &c).await;
        expect(
            send(&c, redeem(&code, &"v".repeat(n))).await,
            "invalid_request",
            &format!("{n}-character verifier"),
        );
    }
    // used: the second redemption is invalid_grant.
    let (code, verifier, _) = code_for(&app, &c).await;
    let (s, tokens) = send(&c, redeem(&code, &verifier)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    expect(
        send(&c, redeem(&code, &verifier)).await,
        "invalid_grant",
        "used code",
    );
    // expired (code lifetime 60 s).
    let (code, verifier, _) = code_for(&app, &c).await;
    app.clock.advance(app.ctx.settings.code_ttl as i64 + 1);
    expect(
        send(&c, redeem(&code, &verifier)).await,
        "invalid_grant",
        "expired code",
    );

    // Refresh tokens: random, another client's, an access token in its place, revoked,
    // reused (outside the grace window): invalid_grant.
    let refresh = |rt: &str| {
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt.to_owned()),
        ]
    };
    let t = app.code_flow("acme", &c, "alice", PW).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let at = t["access_token"].as_str().unwrap().to_owned();
    expect(
        send(&c, refresh("random-rt")).await,
        "invalid_grant",
        "random RT",
    );
    expect(
        send(&c2, refresh(&rt)).await,
        "invalid_grant",
        "other client's RT",
    );
    expect(send(&c, refresh(&at)).await, "invalid_grant", "AT as RT");
    // Scope wider than granted, or unknown: invalid_scope (the RT survives).
    for scope in ["openid profile offline_access email", "openid bogus"] {
        let mut pairs = refresh(&rt);
        pairs.push(("scope".into(), scope.into()));
        expect(send(&c, pairs).await, "invalid_scope", scope);
    }
    let (s, t1) = send(&c, refresh(&rt)).await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    app.clock.advance(app.ctx.settings.refresh_grace as i64 + 1);
    expect(send(&c, refresh(&rt)).await, "invalid_grant", "reused RT");
    let t = app.code_flow("acme", &c, "alice", PW).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(&app, "acme", &c, &rt).await, StatusCode::OK);
    expect(send(&c, refresh(&rt)).await, "invalid_grant", "revoked RT");
}

/// POST `/t/acme/introspect` with `pairs`, authenticated as `caller` if given.
async fn introspect_raw(
    app: &TestApp,
    caller: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(format!("{}/t/acme/introspect", app.base))
        .form(pairs);
    if let Some((id, secret)) = caller {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn s6_3_introspection_bad_inputs_get_the_listed_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let cb = app.tenant_with_alice("beta").await;
    let rs = app.create_client("acme", json!({"name": "rs", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
        .await;
    let rs_aud = app.create_client("acme", json!({"name": "rs-aud", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic", "introspection": true, "audience": ["https://rs.example/"]}))
        .await;
    let ordinary = app.create_client("acme", json!({"name": "o", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"})).await;
    let t = app.code_flow("acme", &c, "alice", PW).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let caller = Some((rs.id.as_str(), rs.secret.as_str()));

    // No caller authentication, or bad credentials: 401 invalid_client.
    for who in [None, Some((rs.id.as_str(), "wrong")), Some(("nobody", "x"))] {
        let (s, b) = introspect_raw(&app, who, &[("token", at)]).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{who:?}: {b}"
        );
    }
    // A client not allowed to introspect: 403, never token data.
    let (s, b) = introspect_raw(
        &app,
        Some((ordinary.id.as_str(), ordinary.secret.as_str())),
        &[("token", at)],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(b.get("active").is_none() && b.get("sub").is_none(), "{b}");
    // token missing: 400 invalid_request.
    let (s, b) = introspect_raw(&app, caller, &[("token_type_hint", "access_token")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{b}"
    );
    // GET: 405.
    let resp = app
        .http
        .get(format!("{}/t/acme/introspect?token={at}", app.base))
        .basic_auth(&rs.id, Some(&rs.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    // A wrong hint is ignored.
    for hint in ["refresh_token", "bogus"] {
        let (s, b) =
            introspect_raw(&app, caller, &[("token", at), ("token_type_hint", hint)]).await;
        assert_eq!((s, &b["active"]), (StatusCode::OK, &json!(true)), "{hint}");
    }
    // Inactive in every listed way: exactly {"active": false}.
    let inactive = json!({"active": false});
    let other_tenant = app.code_flow("beta", &cb, "alice", PW).await;
    let revoked = app.code_flow("acme", &c, "alice", PW).await;
    let revoked_at = revoked["access_token"].as_str().unwrap();
    assert_eq!(revoke(&app, "acme", &c, revoked_at).await, StatusCode::OK);
    for (case, token, by) in [
        ("random", "random-token", &rs),
        ("revoked", revoked_at, &rs),
        (
            "other tenant",
            other_tenant["access_token"].as_str().unwrap(),
            &rs,
        ),
        ("aud not the caller", at, &rs_aud),
        ("refresh token", rt, &rs),
        ("ID token", t["id_token"].as_str().unwrap(), &rs),
    ] {
        let (s, b) = introspect_raw(&app, Some((&by.id, &by.secret)), &[("token", token)]).await;
        assert_eq!((s, &b), (StatusCode::OK, &inactive), "{case}");
    }
    // expired: past the access token lifetime (and any leeway).
    app.clock
        .advance(app.ctx.settings.access_token_ttl as i64 + 120);
    let (s, b) = introspect_raw(&app, caller, &[("token", at)]).await;
    assert_eq!((s, b), (StatusCode::OK, inactive), "expired");
}

async fn s6_3_revocation_bad_inputs_get_the_listed_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let c2 = app.web_client("acme").await;
    let t = app.code_flow("acme", &c, "alice", PW).await;
    let (at, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    // No client authentication from a confidential client: 401 invalid_client.
    for (auth, body) in [
        (None, form(&[("token", at)])),
        (None, form(&[("token", at), ("client_id", &c.id)])),
        (Some(basic_of(&c.id, "wrong")), form(&[("token", at)])),
    ] {
        let got = post_raw(&app, "revoke", auth.as_deref(), FORM, &body).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // GET: 405.
    let resp = app
        .http
        .get(format!("{}/t/acme/revoke?token={at}", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    // token missing: 400 invalid_request.
    let got = post_raw(&app, "revoke", Some(&basic_of(&c.id, &c.secret)), FORM, "").await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    // Random, another client's: 200, and the other client's tokens stay active.
    assert_eq!(revoke(&app, "acme", &c, "random").await, StatusCode::OK);
    for token in [at, rt] {
        assert_eq!(revoke(&app, "acme", &c2, token).await, StatusCode::OK);
    }
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    // A refresh token: 200, then it and the access tokens of its grant are inactive; a
    // second revocation of the same token is 200 again.
    assert_eq!(revoke(&app, "acme", &c, rt).await, StatusCode::OK);
    assert_eq!(
        app.introspect("acme", &c, at).await,
        json!({"active": false})
    );
    let (s, b) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(revoke(&app, "acme", &c, rt).await, StatusCode::OK);
    // A JWT access token on its own is revocable (its jti is denied): 200, inactive; so
    // `unsupported_token_type` has no case here.
    let t = app.code_flow("acme", &c, "alice", PW).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(revoke(&app, "acme", &c, at).await, StatusCode::OK);
    assert_eq!(
        app.introspect("acme", &c, at).await,
        json!({"active": false})
    );
}

async fn s6_5_admin_api_bad_inputs_get_the_listed_answers(backend: Backend) {
    use auth_server::tokens::{Alg, generate};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.create_subscription("beta").await;
    let system = app.system_token().await;
    let acme_admin = tenant_admin(&app, "acme").await;
    let beta_admin = tenant_admin(&app, "beta").await;
    let (_, users) = app
        .admin(&system, Method::GET, "/subscriptions/acme/users", None)
        .await;
    let alice = users["items"][0]["id"].as_str().unwrap().to_owned();

    // No token, garbage, a token signed by a key nobody trusts claiming the system
    // issuer, an expired admin token: 401.
    let forged = {
        let key = generate(Alg::ES256).unwrap();
        let now = app.ctx.now();
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(key.kid.clone());
        h.typ = Some("at+jwt".into());
        let claims = jwt_part(&system, 1);
        let mut claims = claims.as_object().unwrap().clone();
        claims.insert("exp".into(), json!(now + 600));
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
        )
        .unwrap()
    };
    let resp = app
        .http
        .get(format!("{}/admin/v1/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no token");
    for (case, token) in [("garbage", "garbage"), ("forged", forged.as_str())] {
        let (s, b) = app
            .admin(token, Method::GET, "/subscriptions/acme/users", None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{case}: {b}");
    }
    // A valid token without the admin role (a user's access token, a client's `read`
    // token): 403.
    let user_at = app.code_flow("acme", &c, "alice", PW).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let svc = app.create_client("acme", json!({"name": "s", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"})).await;
    let (_, read) = app
        .token(
            "acme",
            &svc.id,
            &svc.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    for (case, token) in [
        ("user token", user_at.as_str()),
        ("client read token", read["access_token"].as_str().unwrap()),
    ] {
        let (s, b) = app
            .admin(token, Method::GET, "/subscriptions/acme/users", None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{case}: {b}");
    }
    // Another tenant's admin on this tenant's resources: 404, as if nothing existed.
    for path in [
        "/subscriptions/acme/users".to_owned(),
        format!("/subscriptions/acme/users/{alice}"),
        format!("/subscriptions/acme/clients/{}", c.id),
    ] {
        let (s, b) = app.admin(&beta_admin, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {b}");
    }
    // Path ids: non-UUID, traversal, NUL, 10 KB: 400 or 404, never 500.
    let long = "a".repeat(10 * 1024);
    for id in [
        "not-a-uuid",
        "..%2F..%2Fsubscriptions",
        "%2E%2E",
        "a%00b",
        long.as_str(),
    ] {
        for path in [
            format!("/subscriptions/acme/users/{id}"),
            format!("/subscriptions/acme/clients/{id}"),
            format!("/subscriptions/{id}"),
        ] {
            let (s, b) = app.admin(&acme_admin, Method::GET, &path, None).await;
            assert!(
                matches!(s, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
                "{}: {s} {b}",
                &path[..path.len().min(80)]
            );
        }
    }
    // JSON bodies: unknown members, wrong types, nulls, duplicate keys, deep nesting,
    // mass assignment: 400 naming the field; 10 MB: 413.
    let user = |extra: &str| {
        format!(r#"{{"username": "bob", "password": "correct horse battery", {extra}}}"#)
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (case, body, field) in [
        ("unknown member", user(r#""colour": "red""#), "colour"),
        ("wrong type", r#"{"username": 5}"#.to_owned(), "username"),
        ("null", r#"{"username": null}"#.to_owned(), "username"),
        (
            "duplicate key",
            r#"{"username": "bob", "username": "eve"}"#.to_owned(),
            "username",
        ),
        (
            "deep nesting",
            format!(r#"{{"username": {deep}}}"#),
            "username",
        ),
        ("tenant_id", user(r#""tenant_id": "beta""#), "tenant_id"),
        (
            "is_super_admin",
            user(r#""is_super_admin": true"#),
            "is_super_admin",
        ),
        ("created_at", user(r#""created_at": 0"#), "created_at"),
        (
            "NUL in a value",
            r#"{"username": "a\u0000b", "password": "correct horse battery"}"#.to_owned(),
            "username",
        ),
    ] {
        let resp = app
            .http
            .post(format!("{}/admin/v1/subscriptions/acme/users", app.base))
            .bearer_auth(&acme_admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{case}");
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["error"], "invalid_request", "{case}: {b}");
        assert_eq!(b["field"], field, "{case}: {b}");
    }
    let (s, b) = app
        .admin(
            &acme_admin,
            Method::POST,
            "/subscriptions/acme/clients",
            Some(json!({"name": "c", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic",
                        "client_secret_hash": "00"})),
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("client_secret_hash")),
        "{b}"
    );
    let huge = format!(r#"{{"username": "{}"}}"#, "x".repeat(10 * 1024 * 1024));
    let resp = app
        .http
        .post(format!("{}/admin/v1/subscriptions/acme/users", app.base))
        .bearer_auth(&acme_admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing above created a user.
    let (_, after) = app
        .admin(&system, Method::GET, "/subscriptions/acme/users", None)
        .await;
    assert_eq!(after["items"].as_array().unwrap().len(), 1, "{after}");
    // Paging (a cursor, `after`, and `limit` ≤ 200): a huge limit is 400 naming it; an
    // `offset`, negative or not, is an unknown parameter: 400 naming it in the message.
    let (s, b) = app
        .admin(
            &acme_admin,
            Method::GET,
            "/subscriptions/acme/users?limit=1000000",
            None,
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit")),
        "{b}"
    );
    let (s, b) = app
        .admin(
            &acme_admin,
            Method::GET,
            "/subscriptions/acme/users?offset=-1",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().is_some_and(|m| m.contains("offset")),
        "{b}"
    );
    // Cross-origin browser calls: bearer tokens only (a cookie authenticates nothing)
    // and no CORS grant, so a page elsewhere can neither send nor read a call.
    let resp = app
        .http
        .request(
            Method::OPTIONS,
            format!("{}/admin/v1/subscriptions/acme/users", app.base),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        resp.headers()
    );
    let resp = app
        .http
        .get(format!("{}/admin/v1/subscriptions/acme/users", app.base))
        .header("origin", "https://evil.example")
        .header("cookie", "session=anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

/// The sea-orm calls that read or write rows without going through a repository.
const RAW_QUERIES: [&str; 7] = [
    "::find(",
    "::find_by_id(",
    "::update_many(",
    "::delete_many(",
    "::delete_by_id(",
    "::insert(",
    "::insert_many(",
];

/// Whether a line of code calls sea-orm directly: `Type::find(` and the other
/// `RAW_QUERIES` on a type (an `Entity`, or an alias of one: the segment before the call
/// starts upper-case, unlike a repository function such as `clients::insert(`), or
/// names `EntityTrait`, without which no entity can be queried.
fn is_raw_query(code: &str) -> bool {
    code.contains("EntityTrait")
        || RAW_QUERIES.iter().any(|q| {
            code.match_indices(q).any(|(i, _)| {
                code[..i]
                    .rsplit(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                    .next()
                    .is_some_and(|seg| seg.starts_with(|c: char| c.is_ascii_uppercase()))
            })
        })
}

/// `(file, line)` of every raw sea-orm query in the Rust sources under `dir` outside
/// `store/`: repositories there take the `SubscriptionId` first and filter by it.
fn raw_queries_outside_store(root: &std::path::Path) -> Vec<(String, usize, String)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != root.join("store") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if is_raw_query(code) {
                    found.push((path.display().to_string(), n + 1, line.trim().to_owned()));
                }
            }
        }
    }
    found
}

/// §5.1 T12, the lint half: sea-orm entities are queried only in `auth-server/src/store/`,
/// whose repositories take the tenant first. (The PostgreSQL row-level-security half is
/// `row_security::t12_…`.)
#[test]
fn t12_no_sea_orm_query_outside_the_tenant_scoped_store() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../auth-server/src");
    let found = raw_queries_outside_store(&src);
    assert!(
        found.is_empty(),
        "raw sea-orm queries outside auth-server/src/store/ (add a repository method taking the SubscriptionId instead): {found:#?}"
    );
    // The scanner itself finds what it must (and nothing else), or the check above
    // would pass vacuously.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    std::fs::create_dir_all(dir.path().join("http")).unwrap();
    std::fs::write(
        dir.path().join("store/ok.rs"),
        "let r = e::Entity::find().all(c).await;",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("http/bad.rs"),
        "let a = users::Entity::find()\n\
         let b = Entity::delete_many()\n\
         let c = entity::clients::Entity::update_many()\n\
         let d = list.iter().find(|x| x)\n\
         // Entity::find() in a comment\n\
         let e = Users::find_by_id(id)\n\
         let f = clients::insert(ctx, tx)\n\
         use sea_orm::{EntityTrait, QueryFilter};\n",
    )
    .unwrap();
    let lines: Vec<usize> = raw_queries_outside_store(dir.path())
        .into_iter()
        .map(|(_, n, _)| n)
        .collect();
    assert_eq!(lines, vec![1, 2, 3, 6, 8]);
}
