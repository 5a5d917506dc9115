//! Remembered consent and its revocation (DESIGN.md "Contract details": consent is
//! remembered per user + client + scopes until the user or an admin revokes it).
//! Revoking also kills the refresh tokens the user granted that client.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    an_admin_revokes_a_consent_and_the_next_authorize_asks_again,
    the_user_revokes_an_application_from_the_account_page,
    a_first_party_client_skips_the_consent_page,
    a_wider_scope_than_remembered_asks_again_and_consent_keeps_the_union,
    approvals_at_the_same_moment_keep_every_scope_in_the_union,
    deleting_a_client_or_a_user_forgets_their_consents,
    prompt_consent_asks_a_first_party_client_too,
);

const PASSWORD: &str = "correct horse battery";

/// Through login (and consent) with `browser`, then the code exchange: the token response.
async fn tokens(app: &TestApp, browser: &reqwest::Client, c: &TestClient) -> Value {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let redirect = app.browser_login(browser, &url, "alice", PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap_or_else(|| panic!("no code: {redirect}"));
    let (s, body) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

/// Where a fresh `/authorize` of `browser` goes first.
async fn first_hop(app: &TestApp, browser: &reqwest::Client, c: &TestClient) -> String {
    hop_with(app, browser, c, &[]).await
}

/// [`first_hop`] with extra authorization parameters.
pub(crate) async fn hop_with(
    app: &TestApp,
    browser: &reqwest::Client,
    c: &TestClient,
    extra: &[(&str, &str)],
) -> String {
    let (_, challenge) = pkce_pair();
    let resp = browser
        .get(app.authorize_url("acme", &c.id, &challenge, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// Redeem a refresh token of `c` at acme: the status and body.
pub(crate) async fn refresh(app: &TestApp, c: &TestClient, rt: &str) -> (StatusCode, Value) {
    app.token(
        "acme",
        &c.id,
        &c.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

async fn an_admin_revokes_a_consent_and_the_next_authorize_asks_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let c = app.web_client("acme").await;
    let other = app
        .create_client("acme", json!({"name": "other", "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile offline_access", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let browser = app.new_browser();
    let t = tokens(&app, &browser, &c).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let at = t["access_token"].as_str().unwrap().to_owned();
    // Consent to a second client too: revoking one consent leaves the other alone.
    let t2 = tokens(&app, &browser, &other).await;
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        first_hop(&app, &browser, &c)
            .await
            .starts_with("https://c1.example/cb?code="),
        "remembered consent skips the consent page"
    );

    let admin = app.system_token().await;
    let list_path = format!("/subscriptions/acme/users/{alice}/consents");
    let (s, list) = app.admin(&admin, Method::GET, &list_path, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["next"], Value::Null);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let mine = items
        .iter()
        .find(|i| i["client_id"] == c.id.as_str())
        .unwrap();
    assert_eq!(mine["client_name"], "web");
    assert_eq!(mine["scope"], "offline_access openid profile");
    assert!(mine["granted_at"].as_i64().unwrap() > 0);
    // Paged like every admin list.
    let (s, first) = app
        .admin(&admin, Method::GET, &format!("{list_path}?limit=1"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert!(first["next"].is_string(), "{first}");

    let (s, body) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("{list_path}/{}", c.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let (_, list) = app.admin(&admin, Method::GET, &list_path, None).await;
    let left: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![other.id.as_str()]);
    // Nothing left to revoke, an unknown user, another tenant's user: 404 with a body.
    let (s, body) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("{list_path}/{}", c.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found", "{body}");
    let (s, _) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/users/nobody/consents",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.create_subscription("beta").await;
    let (s, _) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/subscriptions/beta/users/{alice}/consents"),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a user of acme is not one of beta"
    );

    // The same browser session now meets the consent page again…
    let hop = first_hop(&app, &browser, &c).await;
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
    // …the refresh token and its access token are dead, the other client's live on.
    let (s, body) = refresh(&app, &c, &rt).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(app.introspect("acme", &c, &at).await["active"], false);
    let (s, body) = refresh(&app, &other, &rt2).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Audited, in the subscription's trail.
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?action=consent.revoked",
            None,
        )
        .await;
    let ev = &audit["items"][0];
    assert_eq!(ev["action"], "consent.revoked", "{audit}");
    assert_eq!(ev["target"], json!({"type": "user", "id": alice}));
    assert_eq!(ev["diff"]["client_id"], c.id.as_str());
    assert_eq!(ev["diff"]["revoked_families"], 1);
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?action=consent.granted",
            None,
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
    // Both calls are in the generated OpenAPI document.
    let (_, doc) = app.admin(&admin, Method::GET, "/openapi.json", None).await;
    let paths = &doc["paths"];
    assert!(paths["/admin/v1/subscriptions/{slug}/users/{id}/consents"]["get"].is_object());
    assert!(
        paths["/admin/v1/subscriptions/{slug}/users/{id}/consents/{client_id}"]["delete"]
            .is_object()
    );
}

fn consent_forms(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let li = scraper::Selector::parse("li.consent").unwrap();
    let csrf = scraper::Selector::parse("input[name=\"csrf\"]").unwrap();
    doc.select(&li)
        .map(|e| {
            (
                e.value().attr("data-client-id").unwrap().to_owned(),
                e.select(&csrf)
                    .next()
                    .unwrap()
                    .value()
                    .attr("value")
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

async fn the_user_revokes_an_application_from_the_account_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let page_url = format!("{}/t/acme/account/consents", app.base);
    // Without a session there is nothing to show.
    let resp = app.new_browser().get(&page_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let browser = app.new_browser();
    let t = tokens(&app, &browser, &c).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let resp = browser.get(&page_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains(">web<"), "the client's name is shown: {html}");
    let forms = consent_forms(&html);
    assert_eq!(forms.len(), 1, "{html}");
    let (client_id, csrf) = forms[0].clone();
    assert_eq!(client_id, c.id);

    // A forged token, a cross-site post and a missing client are refused; nothing changes.
    let post = |form: Vec<(&'static str, String)>| browser.post(&page_url).form(&form).send();
    let resp = post(vec![("csrf", "forged".into()), ("client_id", c.id.clone())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = browser
        .post(&page_url)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("client_id", c.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post(vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = post(vec![("csrf", csrf.clone()), ("client_id", "nope".into())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        first_hop(&app, &browser, &c)
            .await
            .starts_with("https://c1.example/cb?code=")
    );

    // The real revoke: 303 back to the list, which is now empty.
    let resp = post(vec![("csrf", csrf.clone()), ("client_id", c.id.clone())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/t/acme/account/consents");
    let html = browser
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(consent_forms(&html).is_empty());
    assert!(html.contains("id=\"no-consents\""), "{html}");
    let hop = first_hop(&app, &browser, &c).await;
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
    let (s, body) = refresh(&app, &c, rt).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

async fn a_first_party_client_skips_the_consent_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let first_party = app
        .create_client("acme", json!({"name": "portal", "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code"],
            "scope": "openid profile", "token_endpoint_auth_method": "client_secret_basic", "skip_consent": true}))
        .await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &first_party.id,
        &challenge,
        &[("scope", "openid profile")],
    );
    let (tx, csrf) = app.open_login_form(&browser, &url).await;
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // Straight from the login to the client (through /authorize at most), never /consent.
    let mut loc = resp.headers()["location"].to_str().unwrap().to_owned();
    if loc.starts_with('/') {
        assert!(!loc.contains("/consent"), "{loc}");
        let resp = browser
            .get(format!("{}{loc}", app.base))
            .send()
            .await
            .unwrap();
        loc = resp.headers()["location"].to_str().unwrap().to_owned();
    }
    assert!(loc.starts_with("https://c1.example/cb?code="), "{loc}");
    // Nothing was asked, so nothing is remembered.
    let admin = app.system_token().await;
    let (_, list) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/subscriptions/acme/users/{alice}/consents"),
            None,
        )
        .await;
    assert_eq!(list["items"], json!([]));
    // A third-party client of the same tenant, same session, still asks.
    let third_party = app.web_client("acme").await;
    let hop = first_hop(&app, &browser, &third_party).await;
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
}

async fn a_wider_scope_than_remembered_asks_again_and_consent_keeps_the_union(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let c = app.web_client("acme").await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let profile = app.authorize_url("acme", &c.id, &challenge, &[("scope", "openid profile")]);
    let redirect = app
        .browser_login(&browser, &profile, "alice", PASSWORD)
        .await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let code_back = |hop: &str| hop.starts_with("https://c1.example/cb?code=");
    // Within what was granted: no question.
    assert!(code_back(
        &hop_with(&app, &browser, &c, &[("scope", "openid")]).await
    ));
    // Wider: asked again.
    let email = [("scope", "openid email")];
    let hop = hop_with(&app, &browser, &c, &email).await;
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
    let redirect = app
        .browser_login(
            &browser,
            &app.authorize_url("acme", &c.id, &challenge, &email),
            "alice",
            PASSWORD,
        )
        .await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    // Approving `openid email` did not forget `profile`: both and their union pass.
    for scope in ["openid profile", "openid email", "openid profile email"] {
        let hop = hop_with(&app, &browser, &c, &[("scope", scope)]).await;
        assert!(code_back(&hop), "{scope}: {hop}");
    }
    let hop = hop_with(
        &app,
        &browser,
        &c,
        &[("scope", "openid profile offline_access")],
    )
    .await;
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
    let admin = app.system_token().await;
    let (_, list) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/subscriptions/acme/users/{alice}/consents"),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["scope"], "email openid profile", "{list}");
}

/// Widening reads the remembered scope and writes the union: two approvals racing on
/// PostgreSQL (READ COMMITTED) each read the same old row and the later write dropped the
/// other's scopes. Eight approvals of different scopes at once, several rounds: the
/// remembered consent holds all of them, and each approval is audited with the scope it
/// really widened.
async fn approvals_at_the_same_moment_keep_every_scope_in_the_union(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let sub = app
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap()
        .id;
    let scopes: Vec<String> = (1..=8).map(|i| format!("s{i}")).collect();
    let want = auth_server::domain::Scope::parse(&scopes.join(" ")).unwrap();
    for round in 0..4 {
        let c = app.web_client("acme").await;
        let approvals: Vec<_> = scopes
            .iter()
            .map(|s| {
                let (ctx, sub, alice, client) =
                    (app.ctx.clone(), sub.clone(), alice.clone(), c.id.clone());
                let scope = auth_server::domain::Scope::parse(&format!("openid {s}")).unwrap();
                tokio::spawn(async move {
                    let actor = auth_server::service::Actor {
                        user_id: Some(alice.clone()),
                        ..Default::default()
                    };
                    auth_server::service::consents::grant(
                        &ctx, &sub, &alice, &client, &scope, &actor,
                    )
                    .await
                })
            })
            .collect();
        for a in approvals {
            a.await.unwrap().unwrap();
        }
        let held = app
            .ctx
            .db(&sub)
            .await
            .unwrap()
            .repos()
            .consents()
            .get(&sub, &alice, &c.id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            want.is_subset(&held),
            "round {round}: remembered {held}, approved {want} and openid"
        );
    }
    // Every approval widened the consent, so each left its own `consent.granted` event
    // (8 per round), none a stale one.
    let admin = app.system_token().await;
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?action=consent.granted&limit=100",
            None,
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 32, "{audit}");
}

/// The client ids of a user's consents, through the admin API.
async fn consented_clients(app: &TestApp, admin: &str, user: &str) -> Vec<String> {
    let (s, list) = app
        .admin(
            admin,
            Method::GET,
            &format!("/subscriptions/acme/users/{user}/consents"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let mut ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["client_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// A remembered consent belongs to its client and its user: deleting either forgets it
/// in the same transaction, so no consent outlives them; the other consents stay.
async fn deleting_a_client_or_a_user_forgets_their_consents(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let bob = app.create_user("acme", "bob", PASSWORD).await;
    let c = app.web_client("acme").await;
    let kept = app.web_client("acme").await;
    for (user, client) in [("alice", &c), ("alice", &kept), ("bob", &c), ("bob", &kept)] {
        let (_, challenge) = pkce_pair();
        let url = app.authorize_url("acme", &client.id, &challenge, &[]);
        let redirect = app
            .browser_login(&app.new_browser(), &url, user, PASSWORD)
            .await;
        assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    }
    let admin = app.system_token().await;
    let mut both = vec![c.id.clone(), kept.id.clone()];
    both.sort();
    assert_eq!(consented_clients(&app, &admin, &alice).await, both);

    let (s, body) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("/subscriptions/acme/clients/{}", c.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    for user in [&alice, &bob] {
        assert_eq!(
            consented_clients(&app, &admin, user).await,
            vec![kept.id.clone()],
            "the deleted client's consents are gone, the other client's stay"
        );
    }

    let (s, body) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("/subscriptions/acme/users/{bob}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let (s, _) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/subscriptions/acme/users/{bob}/consents"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The admin API cannot list a deleted user's consents, so look at the rows: none left.
    let sub = app
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap()
        .id;
    let left = app
        .ctx
        .db(&sub)
        .await
        .unwrap()
        .repos()
        .consents()
        .list(&sub, &bob, None, 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        consented_clients(&app, &admin, &alice).await,
        vec![kept.id.clone()]
    );
}

/// Post the consent page at `hop` (a `/t/acme/consent?tx=…` path) with `decision`;
/// returns where it sends the browser.
async fn decide(app: &TestApp, browser: &reqwest::Client, hop: &str, decision: &str) -> String {
    assert!(hop.contains("/t/acme/consent?tx="), "{hop}");
    let html = browser
        .get(format!("{}{hop}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let input = |name: &str| {
        let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_else(|| panic!("no {name} in {html}"))
            .to_owned()
    };
    let resp = browser
        .post(format!("{}/t/acme/consent", app.base))
        .form(&[
            ("tx", input("tx")),
            ("csrf", input("csrf")),
            ("decision", decision.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// OIDC Core §3.1.2.1: with `prompt=consent` the server SHOULD prompt the user for
/// consent, so a first-party (`skip_consent`) client gets the consent page when it asks
/// for it; allowing issues a code, denying is `access_denied`. Without the prompt it
/// still skips the page, `prompt=none` included, while a third-party client without a
/// remembered consent stays `consent_required` under `prompt=none`.
async fn prompt_consent_asks_a_first_party_client_too(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app.create_user("acme", "alice", PASSWORD).await;
    let portal = app
        .create_client("acme", json!({"name": "portal", "redirect_uris": ["https://c1.example/cb"], "grant_types": ["authorization_code"],
            "scope": "openid profile", "token_endpoint_auth_method": "client_secret_basic", "skip_consent": true}))
        .await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let scope = ("scope", "openid profile");
    let url = app.authorize_url("acme", &portal.id, &challenge, &[scope]);
    let redirect = app.browser_login(&browser, &url, "alice", PASSWORD).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let code_back = |hop: &str| hop.starts_with("https://c1.example/cb?code=");
    assert!(code_back(
        &hop_with(&app, &browser, &portal, &[scope]).await
    ));
    assert!(code_back(
        &hop_with(&app, &browser, &portal, &[scope, ("prompt", "none")]).await
    ));

    // Asked for: the consent page, whatever `skip_consent` says.
    let ask = [scope, ("prompt", "consent")];
    let hop = hop_with(&app, &browser, &portal, &ask).await;
    let back = decide(&app, &browser, &hop, "allow").await;
    assert!(code_back(&back), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    // The explicit approval is remembered like any other (audited, listed, revocable).
    let admin = app.system_token().await;
    assert_eq!(
        consented_clients(&app, &admin, &alice).await,
        vec![portal.id.clone()]
    );
    // Every time it is asked for, and a refusal reaches the client as access_denied.
    let hop = hop_with(&app, &browser, &portal, &ask).await;
    let back = decide(&app, &browser, &hop, "deny").await;
    assert!(back.starts_with("https://c1.example/cb?"), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert!(query_param(&back, "code").is_none(), "{back}");

    // A consent that is needed is never given silently.
    let third_party = app.web_client("acme").await;
    let hop = hop_with(&app, &browser, &third_party, &[("prompt", "none")]).await;
    assert!(hop.starts_with("https://c1.example/cb?"), "{hop}");
    assert_eq!(
        query_param(&hop, "error").as_deref(),
        Some("consent_required")
    );
}
