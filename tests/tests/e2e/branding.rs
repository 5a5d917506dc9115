//! Login pages with per-subscription branding and localised strings (issue 11 §3):
//! branding set through the admin API shows on the login page with a CSP that admits
//! exactly its logo; hostile values are refused naming the field, and a hostile display
//! name renders as text; `ui_locales` (OIDC Core §3.1.2.1), then `Accept-Language`,
//! then the subscription default pick the language, and the HTML contract's field
//! names stay the same in every language.

use e2e::{Backend, TestApp, on_backends, pkce_pair};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    a_branded_subscription_shows_its_name_logo_and_colour_and_its_csp_admits_only_that_logo,
    hostile_branding_is_refused_naming_the_field_and_a_hostile_display_name_renders_as_text,
    ui_locales_de_gives_the_german_login_page_with_the_same_field_names_and_one_error_message,
    accept_language_then_the_subscription_default_pick_the_language_and_unknown_ones_fall_back_to_english,
);

/// PATCH `settings` of subscription `slug`; returns status and body.
async fn patch_settings(app: &TestApp, slug: &str, settings: Value) -> (StatusCode, Value) {
    let t = app.system_token().await;
    app.admin(
        &t,
        Method::PATCH,
        &format!("/subscriptions/{slug}"),
        Some(json!({ "settings": settings })),
    )
    .await
}

/// The login page an authorization request with `extra` parameters leads to, fetched
/// with `accept_language`; returns the page's CSP and HTML.
async fn login_page(
    app: &TestApp,
    browser: &reqwest::Client,
    client_id: &str,
    extra: &[(&str, &str)],
    accept_language: Option<&str>,
) -> (String, String) {
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", client_id, &challenge, extra);
    let resp = browser.get(url).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let login = resp.headers()["location"].to_str().unwrap().to_owned();
    let mut req = browser.get(format!("{}{login}", app.base));
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    (csp, resp.text().await.unwrap())
}

fn img_src(csp: &str) -> String {
    csp.split(';')
        .find_map(|d| d.trim().strip_prefix("img-src "))
        .unwrap_or_else(|| panic!("no img-src in {csp}"))
        .to_owned()
}

fn select<'a>(doc: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&scraper::Selector::parse(css).unwrap())
        .collect()
}

fn text_of(doc: &scraper::Html, css: &str) -> String {
    select(doc, css)
        .first()
        .unwrap_or_else(|| panic!("no {css}"))
        .text()
        .collect::<String>()
        .trim()
        .to_owned()
}

fn html_lang(doc: &scraper::Html) -> String {
    select(doc, "html")[0]
        .value()
        .attr("lang")
        .unwrap()
        .to_owned()
}

/// The HTML contract: the login form's field names do not depend on the language.
fn assert_login_contract(doc: &scraper::Html) {
    for name in ["tx", "csrf", "username", "password"] {
        assert_eq!(
            select(doc, &format!("form[method=post] input[name={name}]")).len(),
            1,
            "{name}"
        );
    }
    assert_eq!(select(doc, "button[name=action][value=login]").len(), 1);
}

async fn a_branded_subscription_shows_its_name_logo_and_colour_and_its_csp_admits_only_that_logo(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();

    // Unbranded: the subscription name, no logo, and only the empty `data:,` page icon.
    let (csp, html) = login_page(&app, &browser, &client.id, &[], None).await;
    let doc = scraper::Html::parse_document(&html);
    assert_eq!(text_of(&doc, ".brand-name"), "acme");
    assert!(select(&doc, "img").is_empty());
    assert_eq!(img_src(&csp), "data:");

    let (s, body) = patch_settings(
        &app,
        "acme",
        json!({"branding": {"display_name": "Acme Corp", "logo": "https://cdn.example/acme.png?v=2", "primary_color": "#0A7"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["settings"]["branding"],
        json!({"display_name": "Acme Corp", "logo": "https://cdn.example/acme.png?v=2", "primary_color": "#0a7"})
    );
    let (csp, html) = login_page(&app, &browser, &client.id, &[], None).await;
    let doc = scraper::Html::parse_document(&html);
    assert_eq!(text_of(&doc, ".brand-name"), "Acme Corp");
    let logo = select(&doc, "img.brand-logo");
    assert_eq!(
        logo[0].value().attr("src"),
        Some("https://cdn.example/acme.png?v=2")
    );
    assert!(html.contains(":root{--primary:#0a7}"), "{html}");
    // CSP source expressions match the path exactly and ignore the query; the logo is
    // also the page icon, so nothing else (not even `data:`) is admitted.
    assert_eq!(img_src(&csp), "https://cdn.example/acme.png");
    let icon = select(&doc, "link[rel=icon]");
    assert_eq!(
        icon[0].value().attr("href"),
        Some("https://cdn.example/acme.png?v=2")
    );
    assert_login_contract(&doc);

    // A data-URI logo admits `data:` and nothing else; the branded page still signs in.
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let (s, body) = patch_settings(&app, "acme", json!({"branding": {"logo": png}})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["branding"]["display_name"], "Acme Corp");
    let (csp, html) = login_page(&app, &browser, &client.id, &[], None).await;
    assert_eq!(img_src(&csp), "data:");
    assert!(html.contains(png));
    let tokens = app
        .code_flow("acme", &client, "alice", "correct horse battery")
        .await;
    assert!(tokens["access_token"].is_string(), "{tokens}");

    // `""` clears a member.
    let (s, body) = patch_settings(&app, "acme", json!({"branding": {"logo": ""}})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["settings"]["branding"].get("logo").is_none(), "{body}");
}

async fn hostile_branding_is_refused_naming_the_field_and_a_hostile_display_name_renders_as_text(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = app.tenant_with_alice("acme").await;
    let long = "x".repeat(101);
    let refused = [
        ("primary_color", "red;}body{display:none"),
        ("primary_color", "</style><script>alert(1)</script>"),
        ("primary_color", "red"),
        ("logo", "javascript:alert(1)"),
        ("logo", "http://cdn.example/logo.png"),
        (
            "logo",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        ),
        ("logo", "https://cdn.example/a.png;script-src *"),
        ("display_name", "bell\u{7}"),
        ("display_name", long.as_str()),
    ];
    for (field, value) in refused {
        let (s, b) = patch_settings(&app, "acme", json!({"branding": {field: value}})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}={value}: {b}");
        assert_eq!(b["field"], format!("settings.branding.{field}"), "{b}");
    }
    let big = format!("data:image/png;base64,{}", "A".repeat(70_000));
    let (s, b) = patch_settings(&app, "acme", json!({"branding": {"logo": big}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "settings.branding.logo");

    // A display name is plain text: accepted, and rendered escaped by the template.
    let hostile = "</style><script>alert(1)</script>\"><img src=x onerror=alert(1)>";
    let (s, b) = patch_settings(&app, "acme", json!({"branding": {"display_name": hostile}})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (csp, html) = login_page(&app, &app.new_browser(), &client.id, &[], None).await;
    let doc = scraper::Html::parse_document(&html);
    assert!(select(&doc, "script").is_empty(), "{html}");
    assert!(select(&doc, "img").is_empty(), "{html}");
    assert_eq!(text_of(&doc, ".brand-name"), hostile);
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(img_src(&csp), "data:");
}

async fn ui_locales_de_gives_the_german_login_page_with_the_same_field_names_and_one_error_message(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    // The first supported tag in `ui_locales` wins, even over `Accept-Language`.
    let (_, html) = login_page(
        &app,
        &browser,
        &client.id,
        &[("ui_locales", "fr-CA de-AT en")],
        Some("en"),
    )
    .await;
    let doc = scraper::Html::parse_document(&html);
    assert_eq!(html_lang(&doc), "de");
    assert_eq!(text_of(&doc, "h1"), "Anmelden");
    assert_eq!(text_of(&doc, "button[value=cancel]"), "Abbrechen");
    assert_login_contract(&doc);

    // Unknown user and wrong password: the same German message, as an alert.
    let tx = select(&doc, "input[name=tx]")[0]
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let csrf = select(&doc, "input[name=csrf]")[0]
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let mut alerts = Vec::new();
    for (user, password) in [("alice", "wrong"), ("nobody", "wrong")] {
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
        assert_eq!(resp.status(), StatusCode::OK);
        let doc = scraper::Html::parse_document(&resp.text().await.unwrap());
        assert_eq!(html_lang(&doc), "de");
        assert_login_contract(&doc);
        alerts.push(text_of(&doc, "[role=alert]"));
    }
    assert_eq!(alerts, ["Benutzername oder Passwort ist falsch."; 2]);

    // The transaction keeps `ui_locales`: the consent page that follows is German too,
    // with the same `decision` buttons (bob in a fresh browser: the failures above slow
    // alice down).
    app.create_user("acme", "bob", "correct horse battery")
        .await;
    let browser = app.new_browser();
    let (_, html) = login_page(&app, &browser, &client.id, &[("ui_locales", "de")], None).await;
    let doc = scraper::Html::parse_document(&html);
    let tx = select(&doc, "input[name=tx]")[0]
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let csrf = select(&doc, "input[name=csrf]")[0]
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "bob"),
            ("password", "correct horse battery"),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let next = resp.headers()["location"].to_str().unwrap().to_owned();
    let next = if next.contains("/authorize") {
        let resp = browser
            .get(format!("{}{next}", app.base))
            .send()
            .await
            .unwrap();
        resp.headers()["location"].to_str().unwrap().to_owned()
    } else {
        next
    };
    assert!(next.contains("/consent"), "{next}");
    let html = browser
        .get(format!("{}{next}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert_eq!(html_lang(&doc), "de");
    assert_eq!(
        text_of(&doc, "button[name=decision][value=allow]"),
        "Erlauben"
    );
    assert_eq!(
        text_of(&doc, "button[name=decision][value=deny]"),
        "Ablehnen"
    );
    assert_eq!(text_of(&doc, ".brand-name"), "acme");
}

async fn accept_language_then_the_subscription_default_pick_the_language_and_unknown_ones_fall_back_to_english(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let lang_of = |html: String| {
        let doc = scraper::Html::parse_document(&html);
        assert_login_contract(&doc);
        (html_lang(&doc), text_of(&doc, "h1"))
    };
    let de = ("de".to_owned(), "Anmelden".to_owned());
    let en = ("en".to_owned(), "Sign in".to_owned());

    let page = login_page(
        &app,
        &browser,
        &client.id,
        &[],
        Some("fr;q=1, de-CH;q=0.8, en;q=0.5"),
    )
    .await;
    assert_eq!(lang_of(page.1), de);
    let page = login_page(
        &app,
        &browser,
        &client.id,
        &[],
        Some("de;q=0.2, en-GB;q=0.9"),
    )
    .await;
    assert_eq!(lang_of(page.1), en);
    let page = login_page(
        &app,
        &browser,
        &client.id,
        &[("ui_locales", "tlh x-klingon")],
        Some("ja"),
    )
    .await;
    assert_eq!(lang_of(page.1), en);
    let page = login_page(
        &app,
        &browser,
        &client.id,
        &[("ui_locales", "en")],
        Some("de"),
    )
    .await;
    assert_eq!(lang_of(page.1), en);

    // The subscription default applies when the request names no supported language.
    let (s, b) = patch_settings(&app, "acme", json!({"default_language": "xx"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "settings.default_language");
    let (s, b) = patch_settings(&app, "acme", json!({"default_language": "de"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["settings"]["default_language"], "de");
    let page = login_page(&app, &browser, &client.id, &[], None).await;
    assert_eq!(lang_of(page.1), de);
    let page = login_page(&app, &browser, &client.id, &[], Some("ja, en;q=0.1")).await;
    assert_eq!(lang_of(page.1), en);
}
