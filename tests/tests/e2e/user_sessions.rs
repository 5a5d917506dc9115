//! A user's browser sessions in the admin API (issue 11, the console's "Sessions" of a
//! user): listed with the clients holding grants made through each, signed out one at a
//! time (as logout would: `offline_access` grants survive) or everywhere (every refresh
//! token dies), audited, tenant-scoped.

use crate::consents::{hop_with, refresh};
use crate::rfc9700_rows::tenant_admin;
use e2e::{Backend, TestApp, TestClient, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(an_admin_lists_and_signs_out_a_users_browser_sessions);

const PASSWORD: &str = "correct horse battery";

/// Log alice in with `browser` asking for `scope`, then redeem the code: the tokens.
async fn tokens(app: &TestApp, browser: &reqwest::Client, c: &TestClient, scope: &str) -> Value {
    app.code_flow_in(browser, "acme", c, ("alice", PASSWORD), &[("scope", scope)])
        .await
}

/// Where a fresh `/authorize` of `browser` goes first.
async fn first_hop(app: &TestApp, browser: &reqwest::Client, c: &TestClient) -> String {
    hop_with(app, browser, c, &[("scope", "openid")]).await
}

/// The session of `list` whose only grant is (or is not) offline.
fn session_with(list: &Value, offline: bool) -> Value {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["clients"][0]["offline"] == offline)
        .unwrap_or_else(|| panic!("no session with an offline={offline} grant: {list}"))
        .clone()
}

async fn an_admin_lists_and_signs_out_a_users_browser_sessions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let bob = app.create_user("acme", "bob", PASSWORD).await;
    let c = app.web_client("acme").await;
    // Two browsers of alice: one without offline access, one with.
    // The laptop's user agent carries a control character, which is dropped.
    let laptop = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent("Laptop/1.0\t(test)")
        .build()
        .unwrap();
    let phone = app.new_browser();
    let t_laptop = tokens(&app, &laptop, &c, "openid profile").await;
    let t_phone = tokens(&app, &phone, &c, "openid profile offline_access").await;
    let rt_laptop = t_laptop["refresh_token"].as_str().unwrap().to_owned();
    let mut rt_phone = t_phone["refresh_token"].as_str().unwrap().to_owned();

    let admin = app.system_token().await;
    let path = format!("/subscriptions/acme/users/{alice}/sessions");
    let (s, list) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(
        list["grants"],
        json!([]),
        "every grant is tied to a session"
    );
    let on_laptop = session_with(&list, false);
    let on_phone = session_with(&list, true);
    for s in [&on_laptop, &on_phone] {
        assert_eq!(s["amr"], json!(["pwd"]), "{s}");
        assert_eq!(s["acr"], "1fa");
        assert!(s["expires_at"].as_i64().unwrap() > s["created_at"].as_i64().unwrap());
        assert!(s["auth_time"].as_i64().unwrap() > 0);
        assert_eq!(s["clients"].as_array().unwrap().len(), 1, "{s}");
        assert_eq!(s["clients"][0]["client_id"], c.id.as_str());
        assert_eq!(s["clients"][0]["client_name"], "web");
    }
    assert_eq!(on_laptop["user_agent"], "Laptop/1.0(test)", "{on_laptop}");
    assert_eq!(on_phone["user_agent"], Value::Null, "no User-Agent sent");
    assert_eq!(on_laptop["ip"], "127.0.0.1", "{on_laptop}");
    assert_eq!(
        on_phone["clients"][0]["scope"],
        "offline_access openid profile"
    );
    // Neither the cookie nor its hash is ever shown.
    let text = list.to_string();
    for cookie in ["key_hash", "cookie"] {
        assert!(!text.contains(cookie), "{text}");
    }
    let sid_laptop = on_laptop["sid"].as_str().unwrap().to_owned();
    let sid_phone = on_phone["sid"].as_str().unwrap().to_owned();

    // Unknown sid, a sid of another user, another tenant: 404, nothing ended.
    let (s, body) = app
        .admin(&admin, Method::DELETE, &format!("{path}/nope"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    let bobs = format!("/subscriptions/acme/users/{bob}/sessions/{sid_laptop}");
    let (s, _) = app.admin(&admin, Method::DELETE, &bobs, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a session of alice is not bob's");
    let (s, _) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/users/nobody/sessions",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.create_subscription("beta").await;
    let (s, _) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/subscriptions/beta/users/{alice}/sessions"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "alice is not a user of beta");
    let beta_admin = tenant_admin(&app, "beta").await;
    for (m, p) in [
        (Method::GET, path.clone()),
        (Method::DELETE, format!("{path}/{sid_laptop}")),
        (Method::DELETE, path.clone()),
    ] {
        let (s, _) = app.admin(&beta_admin, m.clone(), &p, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p} as beta's admin");
    }
    let (_, still) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(still["sessions"].as_array().unwrap().len(), 2, "{still}");

    // Signing out the laptop ends exactly that session.
    let (s, body) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("{path}/{sid_laptop}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let hop = first_hop(&app, &laptop, &c).await;
    assert!(
        hop.contains("/t/acme/login?tx="),
        "the laptop signs in again: {hop}"
    );
    let (s, body) = refresh(&app, &c, &rt_laptop).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let hop = first_hop(&app, &phone, &c).await;
    assert!(
        hop.starts_with("https://c1.example/cb?code="),
        "the phone still is: {hop}"
    );
    let (s, body) = refresh(&app, &c, &rt_phone).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    rt_phone = body["refresh_token"].as_str().unwrap().to_owned();
    let (_, list) = app.admin(&admin, Method::GET, &path, None).await;
    let sids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [sid_phone.as_str()], "{list}");
    let (s, _) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("{path}/{sid_laptop}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "already signed out");

    // Signing out the phone's session leaves its offline grant, now outside any session.
    let (s, _) = app
        .admin(&admin, Method::DELETE, &format!("{path}/{sid_phone}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(
        first_hop(&app, &phone, &c)
            .await
            .contains("/t/acme/login?tx=")
    );
    let (s, body) = refresh(&app, &c, &rt_phone).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "offline access outlives the session: {body}"
    );
    rt_phone = body["refresh_token"].as_str().unwrap().to_owned();
    let (_, list) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(list["sessions"], json!([]), "{list}");
    let grants = list["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{list}");
    assert_eq!(grants[0]["client_id"], c.id.as_str());
    assert_eq!(grants[0]["offline"], true);

    // A new laptop session, then sign-out everywhere: every session and refresh token.
    let t_laptop = tokens(&app, &laptop, &c, "openid").await;
    let rt_laptop = t_laptop["refresh_token"].as_str().unwrap().to_owned();
    let (s, body) = app.admin(&admin, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    assert!(
        first_hop(&app, &laptop, &c)
            .await
            .contains("/t/acme/login?tx=")
    );
    for rt in [&rt_laptop, &rt_phone] {
        let (s, body) = refresh(&app, &c, rt).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant");
    }
    let (_, list) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(list, json!({"sessions": [], "grants": []}));
    // Bob's own sessions are no business of alice's sign-out.
    let (s, _) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("/subscriptions/acme/users/{bob}/sessions"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Audited in acme's trail, naming alice, the session and what was revoked.
    let audit = |action: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let (_, a) = app
                .admin(
                    admin,
                    Method::GET,
                    &format!("/subscriptions/acme/audit?action={action}"),
                    None,
                )
                .await;
            a["items"].as_array().unwrap().clone()
        }
    };
    let ended = audit("user.session_ended").await;
    assert_eq!(ended.len(), 2, "{ended:?}");
    let laptop_ev = ended
        .iter()
        .find(|e| e["diff"]["session"]["old"] == sid_laptop.as_str())
        .unwrap();
    assert_eq!(laptop_ev["target"], json!({"type": "user", "id": alice}));
    assert_eq!(laptop_ev["diff"]["revoked_families"], 1);
    let phone_ev = ended
        .iter()
        .find(|e| e["diff"]["session"]["old"] == sid_phone.as_str())
        .unwrap();
    assert_eq!(
        phone_ev["diff"]["revoked_families"], 0,
        "offline access is kept"
    );
    let everywhere = audit("user.signed_out").await;
    let mine = everywhere
        .iter()
        .find(|e| e["target"]["id"] == alice.as_str())
        .unwrap();
    assert_eq!(mine["diff"]["sessions_ended"], 1, "{mine}");
    assert_eq!(mine["diff"]["revoked_families"], 2, "{mine}");
}
