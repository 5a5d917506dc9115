//! Run-as by RFC 8693 token exchange: refused (and audited) without a run-as grant;
//! with one, the new token's `sub` is the target, `act` names the caller, and every ACL
//! answer is the target's, even when the target has less access than the caller. The
//! `resource` parameter (RFC 8707) binds the new token's `aud` like on every grant.

use e2e::acl::{ALL, World, allowed, denied};
use e2e::{Backend, TestApp, TestClient, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    run_as_is_refused_without_a_grant_and_answers_as_the_target_with_one,
    a_client_without_the_token_exchange_grant_type_is_unauthorized,
    a_client_principal_runs_as_group_members_and_chained_exchanges_nest_act,
    an_exchanged_token_is_bound_to_an_allowed_resource_and_any_other_is_an_invalid_target,
);

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn exchange(
    app: &TestApp,
    c: &TestClient,
    subject: &str,
    target: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", AT),
        ("requested_subject", target),
    ];
    form.extend_from_slice(extra);
    app.token("acme", &c.id, &c.secret, &form).await
}

fn refused((s, b): (StatusCode, Value)) {
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{b}"
    );
}

async fn audit_actions(w: &World<'_>) -> Vec<Value> {
    w.must(StatusCode::OK, Method::GET, "/audit?limit=200", None)
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("run_as."))
        })
        .cloned()
        .collect()
}

async fn run_as_is_refused_without_a_grant_and_answers_as_the_target_with_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let auto = w.user("automation").await;
    let tom = w.user("tom").await;
    w.workspace("ops").await;
    w.participant("ops", "automation", "admin").await;
    w.participant("ops", "tom", "participant").await;
    w.group("ops", "Viewers", &["tom"]).await;
    w.app(
        "ops",
        "tasks",
        json!([{"group": "Viewers", "actions": ["read"], "records": "all"}]),
        json!([{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]),
    )
    .await;
    let caller = w.login("automation").await;
    let record = json!({"fields": {"title": "t", "cost": 3}});
    assert_eq!(
        w.decision(&caller, "ops", "tasks", Some(record.clone()))
            .await,
        allowed(&ALL, json!({"cost": "edit", "title": "edit"}))
    );

    refused(exchange(&app, &w.web, &caller, &tom, &[]).await);
    let events = audit_actions(&w).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["action"].clone(), events[0]["target"].clone()),
        (json!("run_as.refused"), json!({"type": "user", "id": tom}))
    );
    assert_eq!(events[0]["actor"]["user_id"], auto.as_str());
    assert_eq!(events[0]["diff"]["reason"], "no_grant");

    let grant = w
        .must(
            StatusCode::CREATED,
            Method::POST,
            "/run-as-grants",
            Some(json!({"principal": {"user_id": auto}, "target": {"user_id": tom}})),
        )
        .await;
    let (s, t) = exchange(&app, &w.web, &caller, &tom, &[("scope", "openid profile")]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["issued_token_type"].as_str(),
            t["token_type"].as_str(),
            t["scope"].as_str()
        ),
        (Some(AT), Some("Bearer"), Some("openid profile"))
    );
    assert!(
        t.get("refresh_token").is_none() && t.get("id_token").is_none(),
        "{t}"
    );
    let as_tom = t["access_token"].as_str().unwrap();
    let (_, i) = w
        .introspect(
            as_tom,
            &[
                ("acl_workspace", "ops"),
                ("acl_app", "tasks"),
                ("acl_record", &record.to_string()),
            ],
        )
        .await;
    assert_eq!(i["sub"], tom.as_str());
    assert_eq!(i["act"], json!({"sub": auto, "client_id": w.web.id}));
    assert_eq!(i["groups"], json!(["Viewers"]));
    // Less access than the caller: the target's answer, not the automation account's.
    assert_eq!(i["acl"]["workspace"]["role"], "participant");
    assert_eq!(
        i["acl"]["decision"],
        allowed(&["read"], json!({"cost": "hidden", "title": "read"}))
    );
    assert_eq!(
        w.decisions(as_tom, "ops", "tasks", json!([record])).await[0]["actions"],
        json!(["read"])
    );
    let events = audit_actions(&w).await;
    assert_eq!(events.last().unwrap()["action"], "run_as.used");

    // Scope may only narrow, and other parameters are checked.
    let (s, b) = exchange(&app, &w.web, &caller, &tom, &[("scope", "openid admin")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "{b}"
    );
    let (s, b) = app
        .token(
            "acme",
            &w.web.id,
            &w.web.secret,
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", &caller),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("requested_subject", &tom),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{b}"
    );
    let (s, b) = app
        .token(
            "acme",
            &w.web.id,
            &w.web.secret,
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", &caller),
                ("subject_token_type", AT),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{b}"
    );
    refused(exchange(&app, &w.web, "not-a-token", &tom, &[]).await);

    // Revoking the grant ends it for the next exchange.
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/run-as-grants/{}", grant["id"].as_str().unwrap()),
        None,
    )
    .await;
    refused(exchange(&app, &w.web, &caller, &tom, &[]).await);
    // The target cannot run as the caller: grants are one-way.
    let tom_token = w.login("tom").await;
    refused(exchange(&app, &w.web, &tom_token, &auto, &[]).await);
    assert_eq!(
        w.decision(&tom_token, "ops", "nope", None).await,
        denied("app")
    );
}

async fn a_client_without_the_token_exchange_grant_type_is_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let tom = w.user("tom").await;
    let (_, t) = app
        .token(
            "acme",
            &w.rs.id,
            &w.rs.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let subject = t["access_token"].as_str().unwrap().to_owned();
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/run-as-grants",
        Some(json!({"principal": {"client_id": w.rs.id}, "target": "*"})),
    )
    .await;
    let (s, b) = exchange(&app, &w.rs, &subject, &tom, &[]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{b}"
    );
    // A client that may exchange, with a subject token that is not active.
    refused(exchange(&app, &w.web, "not-a-token", &tom, &[]).await);
    // Both refusals are audited with their reason, the client as the actor.
    let events = audit_actions(&w).await;
    let reasons: Vec<(&Value, &Value, &Value)> = events
        .iter()
        .map(|e| {
            (
                &e["diff"]["reason"],
                &e["actor"]["client_id"],
                &e["target"]["id"],
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                &json!("grant_type_not_allowed"),
                &json!(w.rs.id),
                &json!(tom)
            ),
            (
                &json!("subject_token_inactive"),
                &json!(w.web.id),
                &json!(tom)
            ),
        ],
        "{events:?}"
    );
    assert!(events.iter().all(|e| e["action"] == "run_as.refused"));
    let disc: Value = app
        .http
        .get(format!(
            "{}/t/acme/.well-known/openid-configuration",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        disc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE)),
        "{disc}"
    );
}

async fn a_client_principal_runs_as_group_members_and_chained_exchanges_nest_act(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let alice = w.user("alice").await;
    let bob = w.user("bob").await;
    let carol = w.user("carol").await;
    w.workspace("eng").await;
    w.group("eng", "Engineering", &["alice"]).await;
    let bot = app.create_client("acme", json!({"name": "bot", "grant_types": ["client_credentials", EXCHANGE], "scope": "read write",
        "token_endpoint_auth_method": "client_secret_basic"})).await;
    let (_, t) = app
        .token(
            "acme",
            &bot.id,
            &bot.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let bot_token = t["access_token"].as_str().unwrap().to_owned();
    w.must(StatusCode::CREATED, Method::POST, "/run-as-grants",
        Some(json!({"principal": {"client_id": bot.id}, "target": {"workspace": "eng", "group": "Engineering"}}))).await;
    refused(exchange(&app, &bot, &bot_token, &bob, &[]).await);
    let (s, t) = exchange(&app, &bot, &bot_token, &alice, &[("scope", "read")]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let as_alice = t["access_token"].as_str().unwrap().to_owned();
    let (_, i) = w.introspect(&as_alice, &[]).await;
    assert_eq!(
        (i["sub"].as_str(), i["scope"].as_str()),
        (Some(alice.as_str()), Some("read"))
    );
    assert_eq!(i["act"], json!({"sub": bot.id, "client_id": bot.id}));
    // Another client cannot exchange a token that was not issued to it.
    refused(exchange(&app, &w.web, &as_alice, &alice, &[]).await);

    // Chained: running as alice, to carol, needs a grant from alice herself.
    refused(exchange(&app, &bot, &as_alice, &carol, &[]).await);
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/run-as-grants",
        Some(json!({"principal": {"user_id": alice}, "target": "*"})),
    )
    .await;
    let (s, t) = exchange(&app, &bot, &as_alice, &carol, &[]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (_, i) = w.introspect(t["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(i["sub"], carol.as_str());
    assert_eq!(
        i["act"],
        json!({"sub": alice, "client_id": bot.id, "act": {"sub": bot.id, "client_id": bot.id}})
    );
    // Disabling the target revokes the run-as token like the target's own.
    w.must(
        StatusCode::OK,
        Method::PATCH,
        &format!("/users/{carol}"),
        Some(json!({"disabled": true})),
    )
    .await;
    let (_, i) = w.introspect(t["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(i, json!({"active": false}));
}

/// RFC 8707 on the RFC 8693 grant: `resource` must be allowed for the exchanging client
/// (its `allowed_resources`, or the subscription's MCP resources for an `mcp` token) and
/// becomes the new token's `aud`; anything else is `invalid_target` and issues nothing.
async fn an_exchanged_token_is_bound_to_an_allowed_resource_and_any_other_is_an_invalid_target(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    const API: &str = "https://api.acme.example/v1";
    const REPORTS: &str = "https://reports.acme.example/";
    const MCP: &str = "https://mcp.acme.example/mcp";
    let mut w = World::new(&app, "acme").await;
    let alice = w.user("alice").await;
    let admin = app.system_token().await;
    let (s, b) = app
        .admin(
            &admin,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mcp_resources": [MCP]}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let bot = app
        .create_client(
            "acme",
            json!({"name": "bot", "grant_types": ["client_credentials", EXCHANGE], "scope": "read",
        "token_endpoint_auth_method": "client_secret_basic", "allowed_resources": [API, REPORTS]}),
        )
        .await;
    let (_, t) = app
        .token(
            "acme",
            &bot.id,
            &bot.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let bot_token = t["access_token"].as_str().unwrap().to_owned();
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/run-as-grants",
        Some(json!({"principal": {"client_id": bot.id}, "target": {"user_id": alice}})),
    )
    .await;

    // One allowed resource: `aud` is exactly it.
    let (s, t) = exchange(&app, &bot, &bot_token, &alice, &[("resource", API)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (_, i) = w.introspect(t["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(
        (i["active"].as_bool(), i["sub"].as_str(), &i["aud"]),
        (Some(true), Some(alice.as_str()), &json!(API)),
        "{i}"
    );
    // Several allowed resources: all of them.
    let (s, t) = exchange(
        &app,
        &bot,
        &bot_token,
        &alice,
        &[("resource", API), ("resource", REPORTS)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (_, i) = w.introspect(t["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(i["aud"], json!([API, REPORTS]), "{i}");
    // Without `resource`: the client's default audience (its id), not a resource.
    let (s, t) = exchange(&app, &bot, &bot_token, &alice, &[]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (_, i) = w.introspect(t["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(i["aud"], json!(bot.id), "{i}");

    // Not allowed for this client; allowed one beside a disallowed one; the
    // subscription's MCP resource without `mcp` in the scope; not absolute; a fragment.
    let events_before = audit_actions(&w).await.len();
    for (resources, why) in [
        (
            vec!["https://evil.example/api"],
            "is not allowed for this client",
        ),
        (
            vec![API, "https://evil.example/api"],
            "is not allowed for this client",
        ),
        (vec![MCP], "is not allowed for this client"),
        (vec!["/v1"], "is not an absolute URI"),
        (
            vec!["https://api.acme.example/v1#x"],
            "must not contain a fragment",
        ),
    ] {
        let extra: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
        let (s, b) = exchange(&app, &bot, &bot_token, &alice, &extra).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_target")),
            "{resources:?}: {b}"
        );
        assert!(
            b["error_description"]
                .as_str()
                .is_some_and(|d| d.contains(why)),
            "{resources:?}: expected {why:?} in {b}"
        );
    }
    // Refused before anything was issued: no run-as use was recorded for them.
    assert_eq!(audit_actions(&w).await.len(), events_before);
}
