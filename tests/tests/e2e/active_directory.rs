//! Active Directory against a real Samba AD DC (LDAPS with a test CA): the three login
//! name forms reach one linked user, nested groups through the in-chain rule map to a
//! workspace group, account states (disabled 533, expired 701, must change 773, locked
//! 775) get their own messages only with the right password, a wrong password (52e) the
//! generic one, and without the CA the directory is refused.

use e2e::samba::{BASE, SVC_DN, SVC_PW, SambaDc};
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(active_directory_logins_groups_and_account_states);

async fn submit(
    app: &TestApp,
    client: &TestClient,
    user: &str,
    password: &str,
) -> (StatusCode, String) {
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &client.id, &challenge, &[]);
    let (tx, csrf) = app.open_login_form(&browser, &url).await;
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

fn alert(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[role=alert]").unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect())
        .unwrap_or_default()
}

fn sub_of(tokens: &Value) -> String {
    use base64::Engine;
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

async fn active_directory_logins_groups_and_account_states(backend: Backend) {
    let Some(dc) = SambaDc::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let client = app.web_client("acme").await;
    let t = app.system_token().await;
    app.admin(
        &t,
        Method::POST,
        "/subscriptions/acme/workspaces",
        Some(json!({"slug": "main", "name": "Main"})),
    )
    .await;
    app.admin(
        &t,
        Method::POST,
        "/subscriptions/acme/workspaces/main/groups",
        Some(json!({"name": "outer"})),
    )
    .await;
    let (s, b) = app
        .admin(&t, Method::POST, "/subscriptions/acme/connections", Some(json!({
            "name": "ad", "kind": "active_directory", "url": dc.url, "ca_pem": dc.ca_pem,
            "bind_dn": SVC_DN, "bind_password": SVC_PW, "user_base_dn": BASE,
            "domain": "CORP", "upn_suffix": "corp.test",
            "attributes": {"email": "mail", "name": "cn"},
            "group_mappings": [{"directory_group": format!("CN=Outer,CN=Users,{BASE}"), "workspace": "main", "group": "outer"}],
        })))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let (_, d) = app
        .admin(
            &t,
            Method::POST,
            &format!("/subscriptions/acme/connections/{id}/test"),
            None,
        )
        .await;
    assert_eq!(d["ok"], true, "{d}");

    // sAMAccountName, UPN and DOMAIN\user: one linked user (objectGUID), same sub.
    let a = sub_of(
        &app.code_flow("acme", &client, "alice", "Alice-Pass1!")
            .await,
    );
    let b = sub_of(
        &app.code_flow("acme", &client, "alice@corp.test", "Alice-Pass1!")
            .await,
    );
    let c = sub_of(
        &app.code_flow("acme", &client, "CORP\\alice", "Alice-Pass1!")
            .await,
    );
    assert_eq!(a, b);
    assert_eq!(a, c);
    let (_, u) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{a}"),
            None,
        )
        .await;
    assert_eq!(u["email"], "alice@corp.test", "{u}");
    let (_, links) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{a}/links"),
            None,
        )
        .await;
    let guid = links["items"][0]["external_id"].as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(guid).is_ok(),
        "objectGUID as UUID: {guid}"
    );
    // alice ∈ Inner ⊂ Outer: the nested membership maps.
    let (_, m) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/workspaces/main/groups/outer/members",
            None,
        )
        .await;
    assert_eq!(m["items"][0]["user_id"], a.as_str(), "{m}");

    // The link is the objectGUID, not the UPN: a renamed UPN keeps the account, and a new
    // user given alice's old UPN gets another one (SECURITY.md §4.3).
    dc.tool(&["user", "rename", "alice", "--upn=a.liddell@corp.test"]);
    let renamed = sub_of(
        &app.code_flow("acme", &client, "a.liddell@corp.test", "Alice-Pass1!")
            .await,
    );
    assert_eq!(renamed, a);
    dc.tool(&["user", "rename", "alice", "--upn=alice.l@corp.test"]);
    dc.tool(&[
        "user",
        "create",
        "alice2",
        "Alice2-Pass1!",
        "--use-username-as-cn",
    ]);
    dc.tool(&["user", "rename", "alice2", "--upn=a.liddell@corp.test"]);
    let newcomer = sub_of(
        &app.code_flow("acme", &client, "a.liddell@corp.test", "Alice2-Pass1!")
            .await,
    );
    assert_ne!(newcomer, a);

    // Wrong password and unknown users: generic. Another domain's DOMAIN\user: generic.
    for (user, pw) in [
        ("alice", "wrong"),
        ("nobody", "x"),
        ("OTHER\\alice", "Alice-Pass1!"),
        ("bob", "wrong"),
    ] {
        let (s, page) = submit(&app, &client, user, pw).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(alert(&page), "invalid username or password", "{user}");
        // Past our progressive delay, so that the directory sees every attempt.
        app.clock.advance(10);
    }
    // Account states with the right password.
    for (user, pw, word) in [
        ("bob", "Bob-Pass1!", "disabled"),
        ("erin", "Erin-Pass1!", "expired"),
        ("dave", "Dave-Pass1!", "must change"),
    ] {
        let (_, page) = submit(&app, &client, user, pw).await;
        assert!(alert(&page).contains(word), "{user}: {}", alert(&page));
    }
    // Three bad passwords lock frank; then even the right one says "locked".
    for _ in 0..3 {
        let (_, page) = submit(&app, &client, "frank", "bad").await;
        assert_eq!(alert(&page), "invalid username or password");
        app.clock.advance(10);
    }
    let (_, page) = submit(&app, &client, "frank", "Frank-Pass1!").await;
    assert!(alert(&page).contains("locked"), "{}", alert(&page));

    // F7: a user disabled in AD loses the refresh grant at the next refresh.
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/acme/connections/{id}"),
            Some(json!({"account_recheck_secs": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    dc.tool(&[
        "user",
        "create",
        "gina",
        "Gina-Pass1!",
        "--use-username-as-cn",
    ]);
    let tokens = app.code_flow("acme", &client, "gina", "Gina-Pass1!").await;
    let refresh = |rt: String| {
        let app = &app;
        let client = &client;
        async move {
            app.token(
                "acme",
                &client.id,
                &client.secret,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let (s, b) = refresh(tokens["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    dc.tool(&["user", "disable", "gina"]);
    let (s, b) = refresh(b["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"], "invalid_grant", "{b}");
    let (_, events) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/audit?action=token.refresh_refused",
            None,
        )
        .await;
    assert_eq!(events["items"][0]["diff"]["reason"], "disabled", "{events}");

    // Without the CA (system roots only) the DC's certificate is refused.
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/acme/connections/{id}"),
            Some(json!({"ca_pem": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = submit(&app, &client, "alice", "Alice-Pass1!").await;
    assert!(alert(&page).contains("directory is unavailable"), "{page}");
}
