//! The texts worded outside the page templates, in the page's language (docs/branding.md
//! "Languages"): the generic error page, the 2FA service's alerts, the directory's
//! messages on the login page and the account consents page. German with
//! `ui_locales=de` or `Accept-Language: de`, English by default; `<html lang>` follows,
//! and the field names stay the same.

use e2e::slapd::Slapd;
use e2e::totp::{PASSWORD, code_at, enrol, input, now, password_step, select, submit_code};
use e2e::{Backend, TestApp, on_backends, pkce_pair};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(
    the_error_page_follows_ui_locales_then_accept_language_and_defaults_to_english,
    the_2fa_services_alerts_are_german_on_the_code_page_and_the_account_page,
    a_directory_outage_is_explained_in_the_login_pages_language,
    the_account_consents_page_speaks_the_browsers_language_with_the_same_form,
);

/// `<html lang>`, the `h1` and the first alert of a page.
fn lang_h1_alert(html: &str) -> (String, String, String) {
    let doc = scraper::Html::parse_document(html);
    let lang = doc
        .select(&scraper::Selector::parse("html").unwrap())
        .next()
        .and_then(|e| e.value().attr("lang"))
        .unwrap_or_default()
        .to_owned();
    let first = |css: &str| select(html, css).into_iter().next().unwrap_or_default();
    (lang, first("h1"), first("[role=alert]"))
}

fn triple(lang: &str, h1: &str, alert: &str) -> (String, String, String) {
    (lang.into(), h1.into(), alert.into())
}

async fn get(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    accept_language: Option<&str>,
) -> (StatusCode, String) {
    let mut req = browser.get(format!("{}{path}", app.base));
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn the_error_page_follows_ui_locales_then_accept_language_and_defaults_to_english(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let b = app.new_browser();
    // No transaction: English by default; `ui_locales` of the request wins over
    // `Accept-Language`; an expired sign-in asked for in German; a language the
    // catalogue lacks falls back to English.
    let cases = [
        (
            "/t/acme/login",
            None,
            (
                "en",
                "Sign-in error",
                "Start signing in from your application.",
            ),
        ),
        (
            "/t/acme/login?ui_locales=fr%20de",
            Some("en"),
            (
                "de",
                "Anmeldefehler",
                "Beginnen Sie die Anmeldung in Ihrer Anwendung.",
            ),
        ),
        (
            "/t/acme/login?tx=gone",
            Some("de-DE, en;q=0.5"),
            (
                "de",
                "Anmeldefehler",
                "Diese Anmeldung ist abgelaufen. Kehren Sie zur Anwendung zurück und beginnen Sie erneut.",
            ),
        ),
        (
            "/t/acme/login?tx=gone",
            Some("fr"),
            (
                "en",
                "Sign-in error",
                "This sign-in has expired. Go back to the application and start again.",
            ),
        ),
    ];
    for (path, accept, (lang, h1, alert)) in cases {
        let (s, html) = get(&app, &b, path, accept).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            lang_h1_alert(&html),
            triple(lang, h1, alert),
            "{path} {accept:?}"
        );
    }
    // A form from another origin (an expired or forged form): 403, German.
    let resp = b
        .post(format!("{}/t/acme/login", app.base))
        .header("origin", "https://evil.example")
        .header("accept-language", "de")
        .form(&[("tx", "x"), ("csrf", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        lang_h1_alert(&resp.text().await.unwrap()),
        triple(
            "de",
            "Anmeldefehler",
            "Dieses Formular ist nicht mehr gültig. Kehren Sie zur Anwendung zurück und beginnen Sie erneut."
        )
    );
}

async fn the_2fa_services_alerts_are_german_on_the_code_page_and_the_account_page(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let enroller = app.new_browser();
    let (secret, _) = enrol(&app, &c, &enroller, "alice").await;
    // A code from an hour ago is never inside the ±1 step window.
    let wrong = code_at(&secret, now(&app) - 3600);

    // The code page of an authorization request with `ui_locales=de`.
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[("ui_locales", "de")]);
    let loc = password_step(&app, &browser, &url, "alice").await;
    for (code, alert) in [
        (
            wrong.as_str(),
            "Dieser Code ist ungültig. Prüfen Sie Ihre Authenticator-App und versuchen Sie es erneut.",
        ),
        ("12345", "Der Code muss genau 6 Ziffern haben."),
    ] {
        let (resp, _) = submit_code(&app, &browser, &loc, code).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert_eq!(
            lang_h1_alert(&html),
            triple("de", "Code eingeben", alert),
            "{html}"
        );
        // Same form in every language.
        assert!(!input(&html, "tx").is_empty());
        assert_eq!(select(&html, "input[name=code]").len(), 1);
    }
    // English without a language.
    let english = app.new_browser();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let loc = password_step(&app, &english, &url, "alice").await;
    let (resp, _) = submit_code(&app, &english, &loc, &wrong).await;
    assert_eq!(
        lang_h1_alert(&resp.text().await.unwrap()),
        triple(
            "en",
            "Enter your code",
            "That code is not valid. Check your authenticator app and try again."
        )
    );

    // The account page (of the signed-in browser), in the browser's language: a wrong
    // code to turn 2FA off.
    let (_, html) = get(&app, &enroller, "/t/acme/account/2fa", Some("de")).await;
    let resp = enroller
        .post(format!("{}/t/acme/account/2fa", app.base))
        .header("accept-language", "de")
        .form(&[
            ("csrf", input(&html, "csrf")),
            ("code", wrong.clone()),
            ("action", "disable".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        lang_h1_alert(&resp.text().await.unwrap()),
        triple(
            "de",
            "Zwei-Faktor-Authentifizierung",
            "Dieser Code ist ungültig. Prüfen Sie Ihre Authenticator-App und versuchen Sie es erneut."
        )
    );
}

async fn a_directory_outage_is_explained_in_the_login_pages_language(backend: Backend) {
    let Some(mut dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/connections",
            Some(json!({
                "name": "corp", "kind": "ldap", "url": dir.url.clone(),
                "bind_dn": e2e::slapd::SVC_DN, "bind_password": e2e::slapd::SVC_PW,
                "user_base_dn": format!("ou=people,{}", e2e::slapd::BASE),
                "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
                "domains": ["corp.example"], "timeout_secs": 2,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    dir.stop().await;
    let mut alerts = Vec::new();
    for ui in ["de", "en"] {
        let browser = app.new_browser();
        let (_, challenge) = pkce_pair();
        let url = app.authorize_url("acme", &c.id, &challenge, &[("ui_locales", ui)]);
        let (tx, csrf) = app.open_login_form(&browser, &url).await;
        let resp = browser
            .post(format!("{}/t/acme/login", app.base))
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice@corp.example"),
                ("password", "alice-pw"),
                ("action", "login"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert_eq!(select(&html, "input[name=username]").len(), 1);
        let (lang, _, alert) = lang_h1_alert(&html);
        alerts.push((lang, alert));
    }
    assert_eq!(
        alerts,
        [
            (
                "de".to_owned(),
                "Ihr Verzeichnis ist gerade nicht erreichbar, daher kann Ihr Konto nicht geprüft werden. Versuchen Sie es in einigen Minuten erneut.".to_owned()
            ),
            (
                "en".to_owned(),
                "Your directory is unavailable right now, so your account cannot be checked. Try again in a few minutes.".to_owned()
            ),
        ]
    );
}

async fn the_account_consents_page_speaks_the_browsers_language_with_the_same_form(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    app.browser_login(&browser, &url, "alice", PASSWORD).await;
    let mut forms = Vec::new();
    for (accept, h1, button) in [
        (
            Some("de"),
            "Anwendungen mit Zugriff auf Ihr Konto",
            "Zugriff entziehen",
        ),
        (
            None,
            "Applications with access to your account",
            "Revoke access",
        ),
    ] {
        let (s, html) = get(&app, &browser, "/t/acme/account/consents", accept).await;
        assert_eq!(s, StatusCode::OK);
        let (lang, heading, _) = lang_h1_alert(&html);
        assert_eq!(
            (lang.as_str(), heading.as_str()),
            (if accept.is_some() { "de" } else { "en" }, h1)
        );
        assert_eq!(select(&html, "li.consent button"), [button]);
        forms.push((
            select(&html, "li.consent form input[name=client_id]").len(),
            input(&html, "client_id"),
        ));
    }
    assert_eq!(forms[0], forms[1]);
    assert_eq!(forms[0], (1, c.id.clone()));
}
