//! The admin console (`/admin`): in a real browser (Debian chromium driven by npm
//! `playwright-core`, with axe-core), over plain HTTP for the session and CSRF rules and
//! for XSS, and the ACL explain endpoint it is built on.

use e2e::acl::World;
use e2e::slapd::{BASE, SVC_DN, SVC_PW, Slapd};
use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;

on_backends!(
    an_admin_uses_the_console_in_a_real_browser,
    a_tenant_admin_signs_in_at_their_issuer_and_sees_only_their_subscription,
    acl_explain_names_the_layer_and_the_policy_behind_each_answer,
    console_forms_need_the_session_and_its_csrf_token,
    hostile_names_render_as_inert_text_in_the_console,
    connections_of_every_kind_are_added_tested_edited_and_deleted_in_the_console,
);

/// Payloads that break out of text and attribute contexts if anything is not escaped.
const XSS: &str = r#"<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'><svg onload=window.__xss=3>"#;
const ROOT_PASSWORD: &str = "console root password";

/// A system administrator who signs in with a password.
async fn root(app: &TestApp) {
    let t = app.system_token().await;
    let (s, b) = app
        .admin(&t, Method::POST, "/subscriptions/system/users", Some(json!({"username": "root", "password": ROOT_PASSWORD, "system_admin": true, "subscription_admin": true})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// `tests/node_modules` with playwright-core, and /usr/bin/chromium, or a skip.
fn browser_ready() -> bool {
    if !Path::new("/usr/bin/chromium").exists() {
        e2e::skip("chromium (/usr/bin/chromium)");
        return false;
    }
    e2e::node_package("playwright-core")
}

/// The "Cost field hidden" world: sam is a participant in `sales` holding `read` on
/// `deals`, whose `cost` field only workspace admins see.
async fn shop(app: &TestApp) -> (String, String) {
    let mut w = World::new(app, "shop").await;
    w.user("sam").await;
    w.workspace("sales").await;
    w.participant("sales", "sam", "participant").await;
    w.group("sales", "Sales", &["sam"]).await;
    w.app(
        "sales",
        "deals",
        json!([{"group": "Sales", "actions": ["read"], "records": "all"}]),
        json!([{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]),
    )
    .await;
    (w.id("sam"), w.web.id.clone())
}

async fn an_admin_uses_the_console_in_a_real_browser(backend: Backend) {
    if !browser_ready() {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(slapd) = Slapd::start(None).await else {
        return;
    };
    root(&app).await;
    let (sam, web) = shop(&app).await;
    // The end user signs in through a branded login page (the colour keeps white button
    // text above 4.5:1, or axe would fail the page).
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/shop",
            Some(json!({"settings": {"branding": {"display_name": "Shop & Co", "primary_color": "#0b6e4f"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("console-{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&out);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = tokio::process::Command::new("node")
        .arg(dir.join("node/console.mjs"))
        .env("BASE", &app.public)
        .env("ADMIN_USER", "root")
        .env("ADMIN_PASSWORD", ROOT_PASSWORD)
        .env("OUT_DIR", &out)
        .env("SUB_SLUG", "acme-ui")
        .env("XSS", XSS)
        .env("ACL_SLUG", "shop")
        .env("ACL_WS", "sales")
        .env("ACL_APP", "deals")
        .env("ACL_USER", &sam)
        .env("WEB_CLIENT_ID", &web)
        .env("END_USER", "sam")
        .env("END_USER_PASSWORD", e2e::acl::PASSWORD)
        .env("LDAP_URL", &slapd.url)
        .env("LDAP_BIND_DN", SVC_DN)
        .env("LDAP_BIND_PW", SVC_PW)
        .env("LDAP_USER_BASE", format!("ou=people,{BASE}"))
        .env("OIDC_ISSUER", app.issuer("system"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let r: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null);
    assert!(
        run.status.success() && r["ok"] == true,
        "browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(r["console_errors"], json!([]), "{r:#}");
    assert_eq!(r["failed_requests"], json!([]), "{r:#}");
    assert_eq!(r["violations"], json!([]), "axe serious/critical: {r:#}");
    let c = &r["checks"];
    assert_eq!(
        c["cookie_visible_to_script"], "",
        "the session cookie is HttpOnly: {c:#}"
    );
    assert_eq!(c["once_warning"], true, "{c:#}");
    assert_eq!(c["heading_shows_payload_as_text"], true, "{c:#}");
    assert_eq!(c["copy_button_visible"], true, "{c:#}");
    assert_ne!(c["copy_button_after_click"], "Copy", "{c:#}");
    assert!(c["mcp_client_secret_len"].as_u64().unwrap() >= 43, "{c:#}");
    assert!(c["client_secret_len"].as_u64().unwrap() >= 43, "{c:#}");
    assert!(c["rotated_secret_len"].as_u64().unwrap() >= 43, "{c:#}");
    assert_eq!(c["client_saved"], true);
    // The edit's field-level diff, side by side: field, before, after.
    let rows = c["audit_diff_rows"].as_array().unwrap();
    assert!(
        rows.contains(&json!(["name", XSS, "Renamed app"])),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r[0] == "redirect_uris"
            && r[2].as_str().unwrap().contains("https://app.example/cb2")),
        "{rows:?}"
    );
    assert_eq!(
        (
            c["user_created"].clone(),
            c["user_disabled"].clone(),
            c["password_set"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );
    // ACL explain shows the "Cost field hidden" example.
    assert_eq!(c["explain_cost"], "hidden", "{c:#}");
    assert_eq!(c["explain_title"], "read", "{c:#}");
    let layers = c["explain_layers"].as_array().unwrap();
    assert_eq!(
        layers.iter().map(|l| l[1].clone()).collect::<Vec<_>>(),
        [json!("pass"), json!("pass"), json!("pass"), json!("pass")]
    );
    assert!(
        layers[3][2].as_str().unwrap().contains("cost"),
        "{layers:?}"
    );
    assert_eq!(c["after_sign_out"], "/admin", "{c:#}");
    // The LDAP connection made in the browser, tested against the suite's slapd.
    assert!(
        c["ldap_test_heading"].as_str().unwrap().ends_with("passed"),
        "{c:#}"
    );
    let steps: Vec<&str> = c["ldap_test_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps.len() >= 3 && steps.iter().all(|s| s.contains(" ok: ")),
        "{steps:?}"
    );
    assert!(steps.iter().any(|s| s.starts_with("bind")), "{steps:?}");
    // The Active Directory form refused by the API: the error beside that form and its
    // field, the password not sent back, the other values kept; then added.
    assert_eq!(
        c["ad_error"], "url: must be an ldap:// or ldaps:// URL",
        "{c:#}"
    );
    assert_eq!(c["ad_url_invalid"], "true", "{c:#}");
    assert_eq!(c["ad_password_after_error"], "", "{c:#}");
    assert_eq!(c["ad_domain_kept"], "CORP", "{c:#}");
    assert_eq!(c["ad_added"], true, "{c:#}");
    // The upstream OIDC connection (this server's system issuer) passes its test.
    assert!(
        c["oidc_test_heading"].as_str().unwrap().ends_with("passed"),
        "{c:#}"
    );
    let oidc_steps = c["oidc_test_steps"].as_array().unwrap();
    assert!(
        !oidc_steps.is_empty()
            && oidc_steps
                .iter()
                .all(|s| s.as_str().unwrap().contains(" ok: ")),
        "{oidc_steps:?}"
    );
    // Edited (disabled, a setting added) with the secret kept and never shown, then
    // deleted after the confirmation.
    assert_eq!(
        c["edit_secret_state"], "A secret is set (never shown).",
        "{c:#}"
    );
    assert_eq!(c["connection_saved"], true, "{c:#}");
    assert_eq!(c["edit_secret_after_save"], "", "{c:#}");
    assert_eq!(c["connection_deleted"], true, "{c:#}");
    assert_eq!(c["connection_names"], json!(["corp", "corp-ad"]), "{c:#}");
    // The end user's pages (login, consent, 2FA enrolment) passed axe too.
    assert_eq!(c["end_user_code"], true, "{c:#}");
    assert_eq!(c["otpauth_uri"], "otpauth://", "{c:#}");
    // TOTP: enrolled with a code computed in the browser test, recovery codes shown;
    // then a fresh browser signs in through the branded login page and the code page.
    assert!(c["recovery_codes"].as_u64().unwrap() >= 8, "{c:#}");
    assert_eq!(
        (&c["german_lang"], &c["german_heading"]),
        (&json!("de"), &json!("Anmelden")),
        "{c:#}"
    );
    assert_eq!(c["brand_name"], "Shop & Co", "{c:#}");
    assert_eq!(c["brand_button_color"], "rgb(11, 110, 79)", "{c:#}");
    assert_eq!(c["totp_login_code"], true, "{c:#}");
    // Workspace, participant, group, member and app made in the browser.
    assert_eq!(c["app_added"], true, "{c:#}");
    let ws = c["workspace_text"].as_str().unwrap();
    assert!(
        ws.contains("Ops team")
            && ws.contains("team")
            && ws.contains("Tickets")
            && ws.contains("workspaceAdmin"),
        "{ws}"
    );
    // User sessions (issue 11): the end user's browser session, signed out from the console.
    let before = c["user_sessions_before"].as_u64().unwrap();
    assert!(before >= 1, "{c:#}");
    assert_eq!(c["user_sessions_after"], before - 1, "{c:#}");
    assert_eq!(c["session_signed_out"], true, "{c:#}");
    assert_eq!(c["signed_out_row_gone"], true, "{c:#}");
    assert_eq!(c["signed_out_browser_asks_login"], true, "{c:#}");
    // Branding in the settings screen: the API's refusal next to the field, then saved.
    assert!(
        c["branding_field_error"].as_str().unwrap().contains("#rgb"),
        "{c:#}"
    );
    assert_eq!(c["branding_saved"], true, "{c:#}");
    assert_eq!(c["branding_colour"], "#1d3557", "{c:#}");
    let t = app.system_token().await;
    let (_, sub) = app
        .admin(&t, Method::GET, "/subscriptions/acme-ui", None)
        .await;
    assert_eq!(
        sub["settings"]["branding"],
        json!({"display_name": "Acme UI", "primary_color": "#1d3557"}),
        "{sub}"
    );
    assert_eq!(sub["settings"]["default_language"], "de", "{sub}");
    // Screenshots of every screen are kept as artefacts.
    assert!(r["screenshots"].as_array().unwrap().len() >= 24, "{r:#}");
    for f in r["screenshots"].as_array().unwrap() {
        assert!(std::fs::metadata(f.as_str().unwrap()).unwrap().len() > 1000);
    }
    // The browser's changes went through the admin API: audited as the signed-in admin.
    let t = app.system_token().await;
    let (_, events) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme-ui/audit?action=client.updated",
            None,
        )
        .await;
    let ev = &events["items"][0];
    assert_eq!(ev["actor"]["client_id"], "auth-server-console", "{ev}");
    assert!(ev["actor"]["user_id"].is_string(), "{ev}");
}

async fn acl_explain_names_the_layer_and_the_policy_behind_each_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "shop").await;
    for u in ["sam", "wanda", "olga"] {
        w.user(u).await;
    }
    w.workspace("sales").await;
    w.participant("sales", "sam", "participant").await;
    w.participant("sales", "wanda", "admin").await;
    w.group("sales", "Sales", &["sam"]).await;
    w.app(
        "sales",
        "deals",
        json!([{"group": "Sales", "actions": ["read"], "records": "own"}]),
        json!([{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]),
    )
    .await;
    let sam = w.id("sam");
    let explain = |body: Value| {
        let w = &w;
        async move { w.call(Method::POST, "/acl/explain", Some(body)).await }
    };
    let own = json!({"creator": sam, "fields": {"title": "Lamp", "cost": 12}});
    let (s, e) =
        explain(json!({"user_id": sam, "workspace": "sales", "app": "deals", "record": own})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        e["decision"],
        json!({"allowed": true, "denied_at": null, "actions": ["read"], "fields": {"cost": "hidden", "title": "read"}})
    );
    let outcomes: Vec<&str> = e["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["pass", "pass", "pass", "pass"]);
    let cost = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "cost")
        .unwrap();
    assert_eq!(
        (cost["from_record"].as_str(), cost["level"].as_str()),
        (Some("read"), Some("hidden"))
    );
    assert_eq!(cost["policies"][0]["met"], false);
    assert_eq!(cost["policies"][0]["policy"]["access"], "workspaceAdmin");
    assert_eq!(
        e["grants"],
        json!([{"group": "Sales", "actions": ["read"], "records": "own", "held": true, "admits_record": true}])
    );

    // Someone else's record: denied at the record layer, with the grant that did not admit it.
    let theirs = json!({"creator": "someone-else"});
    let (_, e) =
        explain(json!({"user_id": sam, "workspace": "sales", "app": "deals", "record": theirs}))
            .await;
    assert_eq!(e["decision"]["denied_at"], "record");
    assert_eq!(e["layers"][2]["outcome"], "deny");
    assert_eq!(e["layers"][3]["outcome"], "skipped");
    assert_eq!(e["grants"][0]["admits_record"], false);
    // Not a participant: the workspace layer.
    let (_, e) =
        explain(json!({"user_id": w.id("olga"), "workspace": "sales", "app": "deals"})).await;
    assert_eq!(
        (
            e["decision"]["denied_at"].as_str(),
            e["layers"][0]["outcome"].as_str()
        ),
        (Some("workspace"), Some("deny"))
    );
    // The workspace admin short-circuits.
    let (_, e) = explain(
        json!({"user_id": w.id("wanda"), "workspace": "sales", "app": "deals", "record": own}),
    )
    .await;
    assert_eq!(e["layers"][0]["outcome"], "everything");
    assert_eq!(e["decision"]["fields"]["cost"], "edit");
    // By token: the same answer as for its user.
    let token = w.login("sam").await;
    let (s, e) =
        explain(json!({"token": token, "workspace": "sales", "app": "deals", "record": own})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["decision"]["fields"]["cost"], "hidden");
    assert_eq!(e["user"]["sub"], sam.as_str());

    // Bad input: clear errors naming the field.
    for (body, field) in [
        (json!({"workspace": "sales", "app": "deals"}), "user_id"),
        (
            json!({"user_id": sam, "token": token, "workspace": "sales", "app": "deals"}),
            "user_id",
        ),
        (
            json!({"user_id": "nobody", "workspace": "sales", "app": "deals"}),
            "user_id",
        ),
        (
            json!({"token": "not-a-token", "workspace": "sales", "app": "deals"}),
            "token",
        ),
        (
            json!({"user_id": sam, "workspace": "nowhere", "app": "deals"}),
            "workspace",
        ),
        (
            json!({"user_id": sam, "workspace": "sales", "app": "deals", "extra": 1}),
            "extra",
        ),
    ] {
        let (s, e) = explain(body.clone()).await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body} → {e}"
        );
    }
    // Another tenant's admin may not explain here.
    let other = app.create_subscription("other").await;
    let mcp = &other["mcp_client"];
    let _ = mcp;
    let tenant_admin = app
        .create_client("other", json!({"name": "ops", "grant_types": ["client_credentials"], "scope": "admin", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let (_, tok) = app
        .token(
            "other",
            &tenant_admin.id,
            &tenant_admin.secret,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    let (s, _) = app
        .admin(
            tok["access_token"].as_str().unwrap(),
            Method::POST,
            "/subscriptions/shop/acl/explain",
            Some(json!({"user_id": sam, "workspace": "sales", "app": "deals"})),
        )
        .await;
    // SECURITY.md T8: another subscription answers like a missing one.
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A browser-like client signed in to the console as `root`; returns it and the CSRF token.
async fn console_session(app: &TestApp) -> (reqwest::Client, String) {
    console_session_at(app, "system", "root", ROOT_PASSWORD).await
}

/// A browser-like client signed in to the console at `tenant`'s issuer.
async fn console_session_at(
    app: &TestApp,
    tenant: &str,
    user: &str,
    password: &str,
) -> (reqwest::Client, String) {
    let b = app.new_browser();
    let mut next = format!("{}/admin/login?tenant={tenant}", app.base);
    for _ in 0..8 {
        let resp = b.get(&next).send().await.unwrap();
        if resp.status() == StatusCode::OK {
            let url = resp.url().clone();
            let html = resp.text().await.unwrap();
            if url.path().ends_with("/login") && html.contains("name=\"tx\"") {
                let doc = scraper::Html::parse_document(&html);
                let val = |n: &str| {
                    let sel = scraper::Selector::parse(&format!("input[name=\"{n}\"]")).unwrap();
                    doc.select(&sel)
                        .next()
                        .unwrap()
                        .value()
                        .attr("value")
                        .unwrap()
                        .to_owned()
                };
                let resp = b
                    .post(url.as_str())
                    .form(&[
                        ("tx", val("tx")),
                        ("csrf", val("csrf")),
                        ("username", user.into()),
                        ("password", password.into()),
                        ("action", "login".into()),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::SEE_OTHER);
                next = absolute(app, resp.headers()["location"].to_str().unwrap());
                continue;
            }
            let doc = scraper::Html::parse_document(&html);
            let sel = scraper::Selector::parse("input[name=\"csrf\"]").unwrap();
            let csrf = doc
                .select(&sel)
                .next()
                .expect("a console page with a form")
                .value()
                .attr("value")
                .unwrap()
                .to_owned();
            return (b, csrf);
        }
        assert!(resp.status().is_redirection(), "{next}: {}", resp.status());
        next = absolute(app, resp.headers()["location"].to_str().unwrap());
    }
    panic!("console sign-in did not finish");
}

fn absolute(app: &TestApp, location: &str) -> String {
    if location.starts_with('/') {
        format!("{}{location}", app.base)
    } else {
        location.to_owned()
    }
}

async fn console_forms_need_the_session_and_its_csrf_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    root(&app).await;
    // No session: every screen sends the browser to the sign-in page, nothing changes.
    let anon = app.new_browser();
    for (m, p) in [
        (Method::GET, "/admin/subscriptions"),
        (Method::POST, "/admin/subscriptions"),
        (Method::GET, "/admin/s/system/clients"),
    ] {
        let r = anon
            .request(m, format!("{}{p}", app.base))
            .form(&[("slug", "x1"), ("name", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status(), r.headers()["location"].to_str().unwrap()),
            (StatusCode::SEE_OTHER, "/admin"),
            "{p}"
        );
    }
    let (b, csrf) = console_session(&app).await;
    let page = b
        .get(format!("{}/admin/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let create = |csrf: String, origin: Option<&'static str>| {
        let mut r = b.post(format!("{}/admin/subscriptions", app.base)).form(&[
            ("csrf", csrf),
            ("slug", "made-here".into()),
            ("name", "Made here".into()),
        ]);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(
        create(String::new(), None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create("x".repeat(43), None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(csrf.clone(), Some("https://evil.example"))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let t = app.system_token().await;
    let (s, _) = app
        .admin(&t, Method::GET, "/subscriptions/made-here", None)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing was created by the refused forms"
    );
    let ok = create(csrf.clone(), None).await.unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(
        ok.headers()["cache-control"],
        "no-store",
        "a page with a secret is never cached"
    );
    let html = ok.text().await.unwrap();
    assert!(html.contains("you will not see this again"));
    // The 5-minute access token expires; the session renews it with its refresh token.
    app.clock.advance(600);
    let r = b
        .get(format!("{}/admin/s/made-here/clients", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the session outlives its first access token"
    );
    // A page of a subscription that does not exist: the API's 404, shown as a page.
    let r = b
        .get(format!("{}/admin/s/nowhere/clients", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
    // Signing out ends the server-side session: the old cookie opens nothing.
    let r = b
        .post(format!("{}/admin/logout", app.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b
        .get(format!("{}/admin/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin");
}

async fn hostile_names_render_as_inert_text_in_the_console(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    root(&app).await;
    let t = app.system_token().await;
    let (s, _) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions",
            Some(json!({"slug": "evil", "name": XSS})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let c = app
        .create_client("evil", json!({"name": XSS, "redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code"], "scope": "openid", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/evil/clients/{}", c.id),
            Some(json!({"name": format!("{XSS} v2")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Sessions page: a session of eve holding a grant of a client named with the payload,
    // and a hostile branding display name on the settings page.
    let eve = app.create_user("evil", "eve", "eve password 1").await;
    let hostile = app
        .create_client("evil", json!({"name": XSS, "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile offline_access", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    // …from a browser whose user agent is the payload too.
    let evil_browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent(XSS)
        .build()
        .unwrap();
    app.code_flow_in(
        &evil_browser,
        "evil",
        &hostile,
        ("eve", "eve password 1"),
        &[],
    )
    .await;
    let (s, body) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/evil",
            Some(json!({"settings": {"branding": {"display_name": XSS}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (b, csrf) = console_session(&app).await;
    let sessions_page = format!("/admin/s/evil/users/{eve}/sessions");
    for p in [
        "/admin/subscriptions",
        "/admin/s/evil/clients",
        &format!("/admin/s/evil/clients/{}", c.id),
        "/admin/s/evil/settings",
        "/admin/s/evil/audit",
        &sessions_page,
    ] {
        let html = b
            .get(format!("{}{p}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let doc = scraper::Html::parse_document(&html);
        let count = |css: &str| doc.select(&scraper::Selector::parse(css).unwrap()).count();
        assert_eq!(
            count("script:not([src])"),
            0,
            "{p}: an inline script appeared"
        );
        assert_eq!(
            count("img, svg, [onerror], [onload]"),
            0,
            "{p}: a payload became an element"
        );
        assert!(
            doc.root_element()
                .text()
                .collect::<String>()
                .contains("<script>window.__xss=1</script>"),
            "{p}: the name is shown as text"
        );
    }
    // A hostile colour sent through the settings form: the API refuses it naming the
    // field, the console shows that next to the field, and the value stays inert text.
    let colour = r#"red;}</style><script>window.__xss=4</script>"#;
    let html = b
        .post(format!("{}/admin/s/evil/settings", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "evil"),
            ("mfa_policy", "off"),
            ("registration", "off"),
            ("display_name", "Evil Corp"),
            ("logo", ""),
            ("primary_color", colour),
            ("default_language", "de"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let one = |css: &str| {
        doc.select(&scraper::Selector::parse(css).unwrap())
            .next()
            .unwrap_or_else(|| panic!("no {css} in {html}"))
    };
    assert!(
        one("[role=alert]")
            .text()
            .collect::<String>()
            .contains("settings.branding.primary_color"),
        "{html}"
    );
    assert_eq!(one("#set-brand-color").value().attr("value"), Some(colour));
    assert_eq!(
        one("#set-brand-color").value().attr("aria-invalid"),
        Some("true")
    );
    assert!(
        !one("#set-brand-color-error")
            .text()
            .collect::<String>()
            .is_empty()
    );
    assert_eq!(
        doc.select(&scraper::Selector::parse("script:not([src])").unwrap())
            .count(),
        0
    );
    // Nothing was saved: the stored display name is still the earlier one.
    let (_, sub) = app
        .admin(&t, Method::GET, "/subscriptions/evil", None)
        .await;
    assert_eq!(sub["settings"]["branding"]["display_name"], XSS, "{sub}");
    assert_eq!(sub["settings"]["default_language"], "en", "{sub}");
}

async fn a_tenant_admin_signs_in_at_their_issuer_and_sees_only_their_subscription(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    app.create_subscription("globex").await;
    let t = app.system_token().await;
    for (user, admin) in [("tina", true), ("pat", false)] {
        let (s, b) = app
            .admin(&t, Method::POST, "/subscriptions/acme/users", Some(json!({"username": user, "password": "tenant password 1", "subscription_admin": admin})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (b, _) = console_session_at(&app, "acme", "tina", "tenant password 1").await;
    let html = b
        .get(format!("{}/admin/subscriptions", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("/admin/s/acme/clients") && !html.contains("globex"),
        "only their own subscription is listed"
    );
    assert!(
        !html.contains("Create subscription"),
        "tenant admins cannot create subscriptions"
    );
    let r = b
        .get(format!("{}/admin/s/globex/clients", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another tenant: the API's 404 (SECURITY.md T8)"
    );
    let r = b
        .get(format!("{}/admin/s/acme/users", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The console client was registered in the tenant for this sign-in, and audited.
    let (_, c) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/clients/auth-server-console",
            None,
        )
        .await;
    assert_eq!(
        (
            c["token_endpoint_auth_method"].as_str(),
            c["skip_consent"].as_bool()
        ),
        (Some("none"), Some(true)),
        "{c}"
    );

    // A user who is not an administrator gets no console session.
    let anon = app.new_browser();
    let mut next = format!("{}/admin/login?tenant=acme", app.base);
    let mut last = StatusCode::OK;
    for _ in 0..8 {
        let resp = anon.get(&next).send().await.unwrap();
        last = resp.status();
        if last.is_redirection() {
            next = absolute(&app, resp.headers()["location"].to_str().unwrap());
            continue;
        }
        let url = resp.url().clone();
        let html = resp.text().await.unwrap();
        if !url.path().ends_with("/login") || !html.contains("name=\"tx\"") {
            assert!(html.contains("not an administrator"), "{html}");
            break;
        }
        let doc = scraper::Html::parse_document(&html);
        let val = |n: &str| {
            let sel = scraper::Selector::parse(&format!("input[name=\"{n}\"]")).unwrap();
            doc.select(&sel)
                .next()
                .unwrap()
                .value()
                .attr("value")
                .unwrap()
                .to_owned()
        };
        let resp = anon
            .post(url.as_str())
            .form(&[
                ("tx", val("tx")),
                ("csrf", val("csrf")),
                ("username", "pat".into()),
                ("password", "tenant password 1".into()),
                ("action", "login".into()),
            ])
            .send()
            .await
            .unwrap();
        next = absolute(&app, resp.headers()["location"].to_str().unwrap());
    }
    assert_eq!(last, StatusCode::FORBIDDEN);
    let r = anon
        .get(format!("{}/admin/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// The connections of `acme`, read through the admin API.
async fn connections_of(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, list) = app
        .admin(token, Method::GET, "/subscriptions/acme/connections", None)
        .await;
    list["items"].as_array().unwrap().clone()
}

/// The `role="alert"` texts and the `aria-invalid` inputs (by id) of a console page.
fn alerts_and_invalid(html: &str) -> (Vec<String>, Vec<String>) {
    let doc = scraper::Html::parse_document(html);
    let sel = |css: &str| scraper::Selector::parse(css).unwrap();
    let alerts = doc
        .select(&sel("[role=alert]"))
        .map(|e| {
            let id = e.value().attr("id").unwrap_or_default();
            format!("{id}: {}", e.text().collect::<String>().trim())
        })
        .collect();
    let invalid = doc
        .select(&sel("[aria-invalid=true]"))
        .map(|e| e.value().attr("id").unwrap_or_default().to_owned())
        .collect();
    (alerts, invalid)
}

async fn connections_of_every_kind_are_added_tested_edited_and_deleted_in_the_console(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(slapd) = Slapd::start(None).await else {
        return;
    };
    root(&app).await;
    app.create_subscription("acme").await;
    let (b, csrf) = console_session(&app).await;
    let list = format!("{}/admin/s/acme/connections", app.base);
    let post = |url: String, form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("csrf", csrf.clone()));
        b.post(url).form(&form).send()
    };
    let t = app.system_token().await;
    let connections = || connections_of(&app, &t);

    // A refused Active Directory form: the API's field error beside that form and its
    // field, the other values kept, the password never sent back.
    let bad_ad = vec![
        ("kind", "active_directory".into()),
        ("name", "corp-ad".into()),
        ("url", "https://dc.corp.example".into()),
        ("bind_dn", SVC_DN.into()),
        ("bind_password", "ad-secret-never-echoed".into()),
        ("user_base_dn", format!("ou=people,{BASE}")),
        ("domain", "CORP".into()),
        ("upn_suffix", "corp.example".into()),
    ];
    let r = post(list.clone(), bad_ad.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let (alerts, invalid) = alerts_and_invalid(&html);
    assert_eq!(
        alerts,
        ["ad-error: url: must be an ldap:// or ldaps:// URL"],
        "{html}"
    );
    assert_eq!(invalid, ["ad-url"]);
    assert!(!html.contains("ad-secret-never-echoed"));
    assert!(html.contains("value=\"corp.example\""), "the draft is kept");
    assert!(connections().await.is_empty(), "nothing was written");

    // Each kind, added with its own form: AD against the suite's slapd, OIDC against
    // this server's own system issuer.
    let mut ad = bad_ad;
    ad[2].1 = slapd.url.clone();
    ad[4].1 = SVC_PW.into();
    let r = post(list.clone(), ad).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let oidc = vec![
        ("kind", "oidc".into()),
        ("name", "upstream".into()),
        ("issuer", app.issuer("system")),
        ("client_id", "acme-at-system".into()),
        ("client_secret", "oidc-secret-never-echoed".into()),
        ("scopes", "profile email".into()),
        ("claims", "email=email\nname=name".into()),
        ("trust_upstream_mfa", "false".into()),
        ("domains", "upstream.example".into()),
    ];
    let r = post(list.clone(), oidc).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.unwrap();
    assert!(!html.contains("never-echoed"));
    let items = connections().await;
    let by_name = |n: &str| {
        items
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {items:?}"))
            .clone()
    };
    let (ad, up) = (by_name("corp-ad"), by_name("upstream"));
    assert_eq!(
        (
            &ad["kind"],
            &ad["domain"],
            &ad["upn_suffix"],
            &ad["bind_password"]
        ),
        (
            &json!("active_directory"),
            &json!("CORP"),
            &json!("corp.example"),
            &json!({"set": true})
        ),
        "{ad}"
    );
    assert_eq!(
        (
            &up["scopes"],
            &up["claims"],
            &up["trust_upstream_mfa"],
            &up["domains"],
            &up["client_secret"]
        ),
        (
            &json!(["profile", "email"]),
            &json!({"email": "email", "name": "name"}),
            &json!(false),
            &json!(["upstream.example"]),
            &json!({"set": true})
        ),
        "{up}"
    );

    // "Test connection" shows the diagnosis step by step for each kind.
    let test = |id: String| post(format!("{list}/{id}/test"), vec![]);
    let html = test(up["id"].as_str().unwrap().into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let steps: Vec<String> = doc
        .select(&scraper::Selector::parse("ol.steps li").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert!(
        html.contains("Test of upstream")
            && !steps.is_empty()
            && steps.iter().all(|s| s.contains(" ok: ")),
        "{steps:?}"
    );
    let html = test(ad["id"].as_str().unwrap().into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Test of corp-ad")
            && html.contains("<strong>bind</strong> <span class=\"allow\">ok</span>"),
        "{html}"
    );

    // The edit page: settings filled in, the secret never; a blank secret keeps it.
    let edit = format!("{list}/{}", up["id"].as_str().unwrap());
    let html = b.get(&edit).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("A secret is set (never shown).") && !html.contains("never-echoed"));
    let saved = vec![
        ("name", "upstream".into()),
        ("issuer", app.issuer("system")),
        ("client_id", "acme-at-system".into()),
        ("client_secret", String::new()),
        ("scopes", "profile".into()),
        ("groups_claim", "groups".into()),
    ];
    let r = post(edit.clone(), saved.clone()).await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Connection saved."), "{html}");
    let (_, now) = app
        .admin(
            &t,
            Method::GET,
            &format!(
                "/subscriptions/acme/connections/{}",
                up["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (
            &now["enabled"],
            &now["scopes"],
            &now["groups_claim"],
            &now["client_secret"],
            now.get("domains")
        ),
        (
            &json!(false),
            &json!(["profile"]),
            &json!("groups"),
            &json!({"set": true}),
            None
        ),
        "disabled (unchecked), emptied settings removed, the secret kept: {now}"
    );
    // A refused edit names the field beside the edit form and stores nothing.
    let mut bad = saved;
    bad[1].1 = "ftp://idp.example".into();
    let html = post(edit.clone(), bad).await.unwrap().text().await.unwrap();
    let (alerts, invalid) = alerts_and_invalid(&html);
    assert_eq!(alerts, ["e-error: issuer: must be an https URL"], "{html}");
    assert_eq!(invalid, ["e-issuer"]);
    assert!(
        html.contains("value=\"ftp://idp.example\""),
        "the refused value is kept"
    );

    // Delete: the connection is gone, the other stays.
    let r = post(format!("{edit}/delete"), vec![]).await.unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Connection upstream deleted.")
    );
    let names: Vec<Value> = connections()
        .await
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("corp-ad")]);
    // Without the CSRF token nothing is deleted.
    let r = b
        .post(format!("{list}/{}/delete", ad["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(connections().await.len(), 1);
}
