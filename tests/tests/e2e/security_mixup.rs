//! SECURITY.md I3: as a relying party of several upstream identity providers we defend
//! against mix-up (RFC 9700 §4.4). Two real node-oidc-provider processes, U1 and U2, are
//! two connections of one subscription; the test delivers one's answer where the other's
//! is expected and tampers with `iss`, `state` and the ID token. What this cannot assert
//! is listed in docs/security.md (row I3).

use crate::sso::{Upstream, absolute, alert, follow_via};
use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(i3_mix_up_between_two_upstreams_and_tampered_callbacks_are_refused);

/// `url` with its query parameters set (`Some`) or removed (`None`).
fn with_params(url: &str, set: &[(&str, Option<&str>)]) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !set.iter().any(|(name, _)| name == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (k, v) in set {
        if let Some(v) = v {
            pairs.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// The upstream authorization request our server sends for `connection`.
async fn upstream_request(app: &TestApp, client_id: &str, connection: &str) -> String {
    let browser = app.new_browser();
    let (_, ch) = pkce_pair();
    let url = app.authorize_url("acme", client_id, &ch, &[]);
    let r = browser.get(&url).send().await.unwrap();
    let login = absolute(&app.base, &url, r.headers()["location"].to_str().unwrap());
    let html = browser
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse(&format!("a[data-connection=\"{connection}\"]")).unwrap();
    let href = doc
        .select(&sel)
        .next()
        .expect("SSO link")
        .value()
        .attr("href")
        .unwrap();
    let r = browser
        .get(absolute(&app.base, &login, href))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// A refused callback: an error page (no redirect, so no session and no code), whose
/// alert says `says`.
async fn assert_refused(resp: reqwest::Response, status: StatusCode, says: &str, case: &str) {
    assert_eq!(resp.status(), status, "{case}");
    assert!(resp.headers().get("location").is_none(), "{case}");
    let body = resp.text().await.unwrap();
    assert!(alert(&body).contains(says), "{case}: {}", alert(&body));
}

async fn i3_mix_up_between_two_upstreams_and_tampered_callbacks_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let client = app.web_client("acme").await;
    let callback = |name: &str| format!("{}/sso/{name}/callback", app.issuer("acme"));
    let Some(u1) = Upstream::start(&[callback("u1")]).await else {
        return;
    };
    let Some(u2) = Upstream::start(&[callback("u2")]).await else {
        return;
    };
    assert_ne!(u1.issuer, u2.issuer);
    // Another person at U2, so the two connections never compete for one local account.
    u2.set("account", "u-bob").await;
    let t = app.system_token().await;
    for (name, up) in [("u1", &u1), ("u2", &u2)] {
        // Both upstreams know us under the same client id and secret: only the issuer
        // and the callback path tell their answers apart.
        let (s, b) = app
            .admin(
                &t,
                Method::POST,
                "/subscriptions/acme/connections",
                Some(json!({
                    "name": name, "kind": "oidc", "issuer": up.issuer, "client_id": "auth-server",
                    "client_secret": "upstream-client-secret", "scopes": ["email", "profile"],
                    "claims": {"email": "email", "name": "name"},
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    // Each upstream gets its own callback path, PKCE (S256), a nonce and a state.
    for (name, up) in [("u1", &u1), ("u2", &u2)] {
        let req = upstream_request(&app, &client.id, name).await;
        assert!(req.starts_with(&up.issuer), "{req}");
        let p = |k: &str| query_param(&req, k);
        assert_eq!(p("redirect_uri"), Some(callback(name)), "{req}");
        assert_eq!(p("response_type").as_deref(), Some("code"));
        assert_eq!(p("code_challenge_method").as_deref(), Some("S256"), "{req}");
        assert_eq!(p("code_challenge").map(|c| c.len()), Some(43), "{req}");
        assert!(p("nonce").is_some_and(|n| n.len() >= 22), "{req}");
        assert!(p("state").is_some_and(|s| s.len() >= 22), "{req}");
    }

    // One browser with a login pending at each upstream.
    let browser = app.new_browser();
    let (cb1, _) = follow_via(&app, &browser, &client, "u1", true).await;
    let (cb2, _) = follow_via(&app, &browser, &client, "u2", true).await;
    // node-oidc-provider sends RFC 9207 `iss` in every authorization response.
    assert_eq!(query_param(&cb1, "iss"), Some(u1.issuer.clone()), "{cb1}");
    assert_eq!(query_param(&cb2, "iss"), Some(u2.issuer.clone()), "{cb2}");
    // U2's whole answer delivered to U1's callback: refused (its state belongs to U2's
    // connection; refusing it also spends it).
    let r = browser
        .get(cb2.replace("/sso/u2/callback", "/sso/u1/callback"))
        .send()
        .await
        .unwrap();
    assert_refused(r, StatusCode::BAD_REQUEST, "not valid", "U2's answer at U1").await;
    // U1's answer naming U2 as its issuer: refused.
    let forged = with_params(&cb1, &[("iss", Some(&u2.issuer))]);
    let r = browser.get(&forged).send().await.unwrap();
    assert_refused(r, StatusCode::BAD_REQUEST, "not valid", "iss of U2").await;
    // U2's code under U1's state and issuer: U1 does not know the code, so no login.
    let (cb1, _) = follow_via(&app, &browser, &client, "u1", true).await;
    let (cb2, _) = follow_via(&app, &browser, &client, "u2", true).await;
    let code2 = query_param(&cb2, "code").unwrap();
    let swapped = with_params(&cb1, &[("code", Some(&code2))]);
    let r = browser.get(&swapped).send().await.unwrap();
    assert_refused(
        r,
        StatusCode::BAD_GATEWAY,
        "could not complete",
        "U2's code at U1",
    )
    .await;

    // State missing, altered: refused; then the genuine answer works once, and its
    // replay is refused.
    let (cb1, _) = follow_via(&app, &browser, &client, "u1", true).await;
    let state = query_param(&cb1, "state").unwrap();
    let r = browser
        .get(with_params(&cb1, &[("state", None)]))
        .send()
        .await
        .unwrap();
    assert_refused(r, StatusCode::BAD_REQUEST, "not valid", "no state").await;
    let mut altered = state.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let r = browser
        .get(with_params(&cb1, &[("state", Some(&altered))]))
        .send()
        .await
        .unwrap();
    assert_refused(r, StatusCode::BAD_REQUEST, "not valid", "altered state").await;
    let r = browser.get(&cb1).send().await.unwrap();
    assert!(
        r.status().is_redirection(),
        "genuine answer: {}",
        r.status()
    );
    let r = browser.get(&cb1).send().await.unwrap();
    assert_refused(r, StatusCode::BAD_REQUEST, "not valid", "reused state").await;

    // ID tokens validly signed by U1 but naming another issuer, audience or nonce.
    for mode in ["wrong-iss", "wrong-aud", "wrong-nonce"] {
        u1.set("mode", mode).await;
        let (_, err) = follow_via(&app, &app.new_browser(), &client, "u1", false).await;
        let (status, body) = err.unwrap_or_else(|| panic!("{mode} was accepted"));
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{mode}");
        assert!(
            alert(&body).contains("could not be verified"),
            "{mode}: {body}"
        );
    }
    u1.set("mode", "normal").await;
    // And the whole round trip still works at each upstream.
    for name in ["u1", "u2"] {
        let (end, err) = follow_via(&app, &app.new_browser(), &client, name, false).await;
        assert!(err.is_none(), "{name}: {err:?}");
        assert!(query_param(&end, "code").is_some(), "{name}: {end}");
    }
}
