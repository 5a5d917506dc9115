//! LDAP connections against a real slapd started per test: admin CRUD with write-only
//! secrets and the diagnosis, login through the HTML form with just-in-time users,
//! filter injection, the empty-password rule (proved on slapd's own log), nested group
//! mapping reconciled at every login, attribute refresh, a directory outage, and LDAPS /
//! StartTLS with a test CA (and a wrong CA refused).

use e2e::slapd::{self, BASE, SVC_DN, SVC_PW, Slapd};
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    connections_are_managed_with_write_only_secrets_and_diagnosed,
    a_directory_user_logs_in_through_the_form_and_is_provisioned_once,
    filter_injection_and_blank_passwords_never_reach_a_bind,
    nested_groups_map_to_workspace_groups_and_are_reconciled_at_each_login,
    a_directory_outage_is_explained_and_local_users_still_log_in,
    ldaps_and_start_tls_verify_the_directory_certificate,
    an_ad_connection_resolves_nesting_client_side_when_in_chain_is_unsupported,
    directory_failures_count_toward_the_lock_and_an_outage_does_not,
    f7_a_user_removed_from_the_directory_loses_the_refresh_grant,
);

fn connection(url: &str, extra: Value) -> Value {
    let mut c = json!({
        "name": "corp", "kind": "ldap", "url": url,
        "bind_dn": SVC_DN, "bind_password": SVC_PW,
        "user_base_dn": format!("ou=people,{BASE}"),
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
        "attributes": {"email": "mail", "name": "cn", "department": "departmentNumber"},
        "groups": {"base_dn": format!("ou=groups,{BASE}"), "member_attribute": "member", "nested": true},
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// Tenant `acme` with a web client, local user alice-local and the connection `body`.
async fn tenant(app: &TestApp, body: Value) -> (TestClient, String, String) {
    app.create_subscription("acme").await;
    app.create_user("acme", "carol", "carol local password")
        .await;
    let client = app.web_client("acme").await;
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/connections",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (client, t, b["id"].as_str().unwrap().to_owned())
}

/// Submit the login form; returns the status and, for a page, its text (for a redirect,
/// the location).
async fn submit(
    app: &TestApp,
    client: &TestClient,
    user: &str,
    password: &str,
) -> (StatusCode, String) {
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &client.id, &challenge, &[("nonce", "n")]);
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
    if status == StatusCode::SEE_OTHER {
        return (
            status,
            resp.headers()["location"].to_str().unwrap().to_owned(),
        );
    }
    (status, resp.text().await.unwrap())
}

fn alert(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[role=alert]").unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>())
        .unwrap_or_default()
}

/// Log in through the form and the code flow; returns the ID token's claims.
async fn login_claims(app: &TestApp, client: &TestClient, user: &str, password: &str) -> Value {
    let tokens = app.code_flow("acme", client, user, password).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn user(app: &TestApp, t: &str, id: &str) -> Value {
    let (s, b) = app
        .admin(
            t,
            Method::GET,
            &format!("/subscriptions/acme/users/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn connections_are_managed_with_write_only_secrets_and_diagnosed(backend: Backend) {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, t, id) = tenant(&app, connection(&dir.url, json!({}))).await;
    let path = format!("/subscriptions/acme/connections/{id}");

    // The secret never comes back, not in the item, the list or the audit log.
    let (s, item) = app.admin(&t, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(item["bind_password"], json!({"set": true}));
    assert_eq!(item["kind"], "ldap");
    assert_eq!(item["enabled"], true);
    let (_, list) = app
        .admin(&t, Method::GET, "/subscriptions/acme/connections", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, audit) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    let audit_text = audit.to_string();
    assert!(audit_text.contains("connection.created"));
    assert!(!audit_text.contains(SVC_PW), "secret in the audit log");
    // Nor in the database files (SQLite keeps recent writes in the WAL).
    for f in ["auth.db", "auth.db-wal"] {
        let bytes = std::fs::read(app.storage.dir.path().join(f)).unwrap_or_default();
        assert!(
            !bytes.windows(SVC_PW.len()).any(|w| w == SVC_PW.as_bytes()),
            "secret in {f}"
        );
    }

    // The diagnosis passes every stage.
    let (s, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["ok"], true, "{d}");
    let stages: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["dns", "tcp", "bind", "search"]);

    // A wrong secret (PATCH keeps everything else) fails at bind, without echoing it.
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"bind_password": "wrong-secret-value"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["url"], dir.url.as_str());
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(d["ok"], false);
    let last = d["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["stage"], "bind", "{d}");
    assert!(last["message"].as_str().unwrap().contains("49"), "{d}");
    assert!(!d.to_string().contains("wrong-secret-value"));
    let (_, audit) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    assert!(audit.to_string().contains("[redacted, replaced]"));
    assert!(!audit.to_string().contains("wrong-secret-value"));

    // An environment reference is stored as a name; an unset variable is diagnosed.
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"bind_password": {"env": "AUTH_TEST_UNSET_LDAP_PASSWORD"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["bind_password"],
        json!({"env": "AUTH_TEST_UNSET_LDAP_PASSWORD"})
    );
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert!(
        d.to_string()
            .contains("AUTH_TEST_UNSET_LDAP_PASSWORD is not set"),
        "{d}"
    );

    // A closed port fails at TCP.
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"url": "ldap://127.0.0.1:1", "bind_password": SVC_PW})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(
        d["steps"].as_array().unwrap().last().unwrap()["stage"],
        "tcp",
        "{d}"
    );

    // Bad input names its field; duplicates are 409; unknown members are refused.
    let cases = [
        (json!({"url": "http://x"}), "url"),
        (json!({"bind_password": ""}), "bind_password"),
        (json!({"user_filter": "uid={username}"}), "user_filter"),
        (json!({"issuer": "https://idp.example"}), "issuer"),
        (json!({"kind": "kerberos"}), "kind"),
    ];
    for (patch, field) in cases {
        let (s, b) = app
            .admin(
                &t,
                Method::POST,
                "/subscriptions/acme/connections",
                Some(connection(
                    &dir.url,
                    json!({"name": "other"})
                        .as_object()
                        .unwrap()
                        .clone()
                        .into_iter()
                        .chain(patch.as_object().unwrap().clone())
                        .collect::<serde_json::Map<_, _>>()
                        .into(),
                )),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{patch}: {b}");
        assert_eq!(b["field"], field, "{patch}: {b}");
    }
    let (s, _) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/connections",
            Some(connection(&dir.url, json!({}))),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Another tenant's admin sees nothing; delete removes it.
    app.create_subscription("other").await;
    let (s, _) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/other/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.admin(&t, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.admin(&t, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, spec) = app.admin(&t, Method::GET, "/openapi.json", None).await;
    assert!(spec["paths"]["/admin/v1/subscriptions/{slug}/connections/{id}/test"].is_object());
}

async fn a_directory_user_logs_in_through_the_form_and_is_provisioned_once(backend: Backend) {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (client, t, conn_id) = tenant(&app, connection(&dir.url, json!({}))).await;

    let claims = login_claims(&app, &client, "alice", "alice-pw").await;
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(claims["amr"], json!(["pwd"]));
    let u = user(&app, &t, &sub).await;
    assert_eq!(u["username"], "alice");
    assert_eq!(u["email"], "alice@corp.example");
    assert_eq!(u["name"], "Alice Liddell");
    assert_eq!(u["attributes"]["department"], "sales");
    let (_, links) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{sub}/links"),
            None,
        )
        .await;
    assert_eq!(links["items"][0]["connection_id"], conn_id.as_str());

    // Second login: the same user; an attribute changed in the directory follows.
    dir.modify(&format!("dn: uid=alice,ou=people,{BASE}\nchangetype: modify\nreplace: departmentNumber\ndepartmentNumber: research\n")).await;
    let again = login_claims(&app, &client, "ALICE", "alice-pw").await;
    assert_eq!(again["sub"], sub.as_str());
    assert_eq!(
        user(&app, &t, &sub).await["attributes"]["department"],
        "research"
    );

    // The entry with filter metacharacters in its DN and uid logs in as itself.
    let sean = login_claims(&app, &client, "o'brien(ops)*", "sean-pw").await;
    assert_ne!(sean["sub"], sub.as_str());
    assert_eq!(
        user(&app, &t, sean["sub"].as_str().unwrap()).await["email"],
        "sean@corp.example"
    );

    // Wrong password: the generic message.
    let (s, page) = submit(&app, &client, "alice", "wrong").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(alert(&page), "invalid username or password");
    // Past the progressive delay that failure started (SECURITY.md §3).
    app.clock.advance(10);
    // Another subscription never uses this one's directory (SECURITY.md T3).
    app.create_subscription("other").await;
    let other = app.web_client("other").await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("other", &other.id, &challenge, &[]);
    let (tx, csrf) = app.open_login_form(&browser, &url).await;
    let r = browser
        .post(format!("{}/t/other/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        alert(&r.text().await.unwrap()),
        "invalid username or password"
    );
    // A local user keeps logging in with the local password.
    let carol = login_claims(&app, &client, "carol", "carol local password").await;
    assert_ne!(carol["sub"], sub.as_str());

    // Unlinked, the next directory login creates a new user (never merged by name).
    let (s, _) = app
        .admin(
            &t,
            Method::DELETE,
            &format!("/subscriptions/acme/users/{sub}/links/{conn_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let fresh = login_claims(&app, &client, "alice", "alice-pw").await;
    assert_ne!(fresh["sub"], sub.as_str());
    // Pre-linking the identity to a chosen user makes the next login land there.
    let (_, links) = app
        .admin(
            &t,
            Method::GET,
            &format!(
                "/subscriptions/acme/users/{}/links",
                fresh["sub"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let external = links["items"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = app
        .admin(
            &t,
            Method::PUT,
            &format!("/subscriptions/acme/users/{sub}/links/{conn_id}"),
            Some(json!({"external_id": external})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    app.admin(
        &t,
        Method::DELETE,
        &format!(
            "/subscriptions/acme/users/{}/links/{conn_id}",
            fresh["sub"].as_str().unwrap()
        ),
        None,
    )
    .await;
    let (s, b) = app
        .admin(
            &t,
            Method::PUT,
            &format!("/subscriptions/acme/users/{sub}/links/{conn_id}"),
            Some(json!({"external_id": external})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(
        login_claims(&app, &client, "alice", "alice-pw").await["sub"],
        sub.as_str()
    );

    // A disabled connection is not used: its users get the generic failure.
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/acme/connections/{conn_id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["enabled"], false);
    let (_, page) = submit(&app, &client, "alice", "alice-pw").await;
    assert_eq!(alert(&page), "invalid username or password");
}

async fn filter_injection_and_blank_passwords_never_reach_a_bind(backend: Backend) {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (client, _, _) = tenant(&app, connection(&dir.url, json!({}))).await;
    // Warm the pool so the counts below are about logins only.
    login_claims(&app, &client, "alice", "alice-pw").await;

    let user_binds = dir.binds("uid=alice");
    let ops = dir.operations();
    for blank in ["", " ", "\t", "\0"] {
        let (s, page) = submit(&app, &client, "alice", blank).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(alert(&page), "invalid username or password", "{blank:?}");
    }
    assert_eq!(
        dir.binds("uid=alice"),
        user_binds,
        "a blank password reached slapd"
    );
    assert_eq!(
        dir.operations(),
        ops,
        "a blank password caused LDAP traffic"
    );

    for name in [
        "*",
        "a*",
        "*)(uid=*",
        "alice)(|(objectClass=*)",
        "x\\",
        "*)(|(uid=*))",
    ] {
        let (s, page) = submit(&app, &client, name, "alice-pw").await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert_eq!(alert(&page), "invalid username or password", "{name}");
    }
    // slapd saw escaped filters only: no bare wildcard reached it as a filter.
    let log = dir.log();
    assert!(
        log.contains("uid=\\2A)") || log.contains("uid=\\2a)"),
        "escaped filter not seen"
    );
    assert!(!log.contains("(uid=*)"), "a wildcard filter reached slapd");
    assert_eq!(
        dir.binds("uid=alice"),
        user_binds,
        "an injection found alice"
    );
}

async fn nested_groups_map_to_workspace_groups_and_are_reconciled_at_each_login(backend: Backend) {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mappings = json!({"group_mappings": [
        {"directory_group": format!("cn=everyone,ou=groups,{BASE}"), "workspace": "main", "group": "everyone"},
        {"directory_group": format!("CN=Cycle-B, OU=Groups, {BASE}"), "workspace": "main", "group": "cyclists"},
        {"directory_group": format!("cn=admins,ou=groups,{BASE}"), "workspace": "main", "group": "admins"},
    ]});
    let (client, t, _) = tenant(&app, connection(&dir.url, mappings)).await;
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/workspaces",
            Some(json!({"slug": "main", "name": "Main"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    for g in ["everyone", "cyclists", "admins"] {
        let (s, b) = app
            .admin(
                &t,
                Method::POST,
                "/subscriptions/acme/workspaces/main/groups",
                Some(json!({"name": g})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let members = |g: &'static str| {
        let app = &app;
        let t = t.clone();
        async move {
            let (_, b) = app
                .admin(
                    &t,
                    Method::GET,
                    &format!("/subscriptions/acme/workspaces/main/groups/{g}/members"),
                    None,
                )
                .await;
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["user_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // alice ∈ staff ⊂ engineering ⊂ everyone (depth 2), and staff ⊂ cycle-a ↔ cycle-b.
    let tokens = app.code_flow("acme", &client, "alice", "alice-pw").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let acl_groups = |access: String| {
        let app = &app;
        let client = client.clone();
        async move {
            let resp = app
                .http
                .post(format!("{}/t/acme/introspect", app.base))
                .basic_auth(&client.id, Some(&client.secret))
                .form(&[("token", access.as_str()), ("acl_workspace", "main")])
                .send()
                .await
                .unwrap();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["active"], true, "{body}");
            body["groups"].as_array().cloned().unwrap_or_default()
        }
    };
    let alice = app.introspect("acme", &client, &access).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(members("everyone").await, vec![alice.clone()]);
    assert_eq!(members("cyclists").await, vec![alice.clone()]);
    assert!(members("admins").await.is_empty());
    assert!(
        acl_groups(access.clone())
            .await
            .contains(&json!("everyone"))
    );
    // A manual membership in an unmapped group is not touched by reconciliation.
    app.admin(
        &t,
        Method::POST,
        "/subscriptions/acme/workspaces/main/groups",
        Some(json!({"name": "manual"})),
    )
    .await;
    let (s, _) = app
        .admin(
            &t,
            Method::PUT,
            &format!("/subscriptions/acme/workspaces/main/groups/manual/members/{alice}"),
            None,
        )
        .await;
    assert!(s.is_success());

    // Removed from staff in the directory: the next login removes the mapped memberships.
    dir.modify(&format!("dn: cn=staff,ou=groups,{BASE}\nchangetype: modify\nreplace: member\nmember: uid=bob,ou=people,{BASE}\n")).await;
    login_claims(&app, &client, "alice", "alice-pw").await;
    assert!(members("everyone").await.is_empty());
    assert!(members("cyclists").await.is_empty());
    assert_eq!(members("manual").await, vec![alice.clone()]);
    // The ACL evaluator sees it at once (the facts cache was invalidated).
    let now = acl_groups(access.clone()).await;
    assert!(
        !now.contains(&json!("everyone")) && now.contains(&json!("manual")),
        "{now:?}"
    );
    // bob is now in staff (nested into everyone) and directly in admins.
    let bob = login_claims(&app, &client, "bob", "bob-pw").await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(members("admins").await, vec![bob.clone()]);
    assert_eq!(members("everyone").await, vec![bob]);
    let (_, audit) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    let text = audit.to_string();
    assert!(text.contains("group.member_added") && text.contains("group.member_removed"));
}

async fn a_directory_outage_is_explained_and_local_users_still_log_in(backend: Backend) {
    let Some(mut dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (client, _, _) = tenant(
        &app,
        connection(
            &dir.url,
            json!({"domains": ["corp.example"], "timeout_secs": 2}),
        ),
    )
    .await;
    login_claims(&app, &client, "alice", "alice-pw").await;
    dir.stop().await;
    let started = std::time::Instant::now();
    let (s, page) = submit(&app, &client, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK);
    assert!(alert(&page).contains("directory is unavailable"), "{page}");
    // Home-realm routing: the domain's users go to the (down) directory too.
    let (_, page) = submit(&app, &client, "alice@corp.example", "alice-pw").await;
    assert!(alert(&page).contains("directory is unavailable"), "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Local users are unaffected.
    let carol = login_claims(&app, &client, "carol", "carol local password").await;
    assert!(carol["sub"].is_string());
}

async fn ldaps_and_start_tls_verify_the_directory_certificate(backend: Backend) {
    let certs = tempfile::tempdir().unwrap();
    let (ca, files) = slapd::test_ca(certs.path(), "good");
    let (wrong_ca, _) = slapd::test_ca(certs.path(), "wrong");
    let Some(dir) = Slapd::start(Some(&files)).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ldaps = dir.ldaps_url.clone().unwrap();
    let (client, t, id) = tenant(&app, connection(&ldaps, json!({"ca_pem": ca}))).await;
    let path = format!("/subscriptions/acme/connections/{id}");
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(d["ok"], true, "{d}");
    assert!(
        d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["stage"] == "tls")
    );
    login_claims(&app, &client, "alice", "alice-pw").await;

    // The same server under another CA: refused at TLS, the login says unavailable.
    let (s, _) = app
        .admin(&t, Method::PATCH, &path, Some(json!({"ca_pem": wrong_ca})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(d["ok"], false);
    assert_eq!(
        d["steps"].as_array().unwrap().last().unwrap()["stage"],
        "tls",
        "{d}"
    );
    let (_, page) = submit(&app, &client, "alice", "alice-pw").await;
    assert!(alert(&page).contains("directory is unavailable"), "{page}");

    // StartTLS on the plain port with the right CA (given as a file) works.
    let ca_file = certs.path().join("good-ca.pem");
    let (s, b) = app.admin(&t, Method::PATCH, &path, Some(json!({"url": dir.url, "start_tls": true, "ca_pem": null, "ca_file": ca_file.to_str().unwrap()}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    login_claims(&app, &client, "alice", "alice-pw").await;
    // And with the wrong CA it is refused, never downgraded to plaintext.
    let binds = dir.binds("uid=alice");
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"ca_file": null, "ca_pem": wrong_ca})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = submit(&app, &client, "alice", "alice-pw").await;
    assert!(alert(&page).contains("directory is unavailable"), "{page}");
    assert_eq!(dir.binds("uid=alice"), binds);
    let _ = query_param;
}

async fn an_ad_connection_resolves_nesting_client_side_when_in_chain_is_unsupported(
    backend: Backend,
) {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // OpenLDAP answers the in-chain filter with an empty success: the connector must
    // notice (the direct group is missing) and walk the nesting itself.
    let body = connection(
        &dir.url,
        json!({
            "kind": "active_directory", "id_attribute": "entryUUID",
            "groups": {"base_dn": format!("ou=groups,{BASE}"), "use_member_of": false, "member_attribute": "member"},
            "group_mappings": [{"directory_group": format!("cn=everyone,ou=groups,{BASE}"), "workspace": "main", "group": "everyone"}],
        }),
    );
    let (client, t, _) = tenant(&app, body).await;
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
        Some(json!({"name": "everyone"})),
    )
    .await;
    let alice = login_claims(&app, &client, "alice", "alice-pw").await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // slapd logs a filter with an unknown matching rule as `(?=undefined)`.
    assert!(
        dir.log().contains("(?=undefined)"),
        "the in-chain query was not tried"
    );
    let (_, m) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/workspaces/main/groups/everyone/members",
            None,
        )
        .await;
    assert_eq!(m["items"][0]["user_id"], alice.as_str(), "{m}");
}

/// SECURITY.md §3 and §4.2: a wrong directory password counts like a local one (same
/// per-name lock, no bind while locked); an unreachable directory counts nothing.
async fn directory_failures_count_toward_the_lock_and_an_outage_does_not(backend: Backend) {
    let Some(mut dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (client, t, _) = tenant(&app, connection(&dir.url, json!({}))).await;
    let sub = login_claims(&app, &client, "alice", "alice-pw").await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..5 {
        let (_, page) = submit(&app, &client, "alice", "wrong").await;
        assert_eq!(alert(&page), "invalid username or password");
        app.clock.advance(10);
    }
    let binds = dir.binds("uid=alice");
    let (s, page) = submit(&app, &client, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(alert(&page), "invalid username or password");
    assert_eq!(
        dir.binds("uid=alice"),
        binds,
        "a locked name reached a bind"
    );
    let lock = format!("/subscriptions/acme/users/{sub}/lock");
    let (_, st) = app.admin(&t, Method::GET, &lock, None).await;
    assert_eq!(st["consecutive_failures"], 5, "{st}");
    assert!(st["locked_until"].is_i64(), "{st}");
    app.clock.advance(301);
    let (s, _) = submit(&app, &client, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    dir.stop().await;
    for _ in 0..6 {
        let (_, page) = submit(&app, &client, "alice", "alice-pw").await;
        assert!(alert(&page).contains("directory is unavailable"), "{page}");
        app.clock.advance(10);
    }
    let t = app.system_token().await;
    let (_, st) = app.admin(&t, Method::GET, &lock, None).await;
    assert_eq!(st["consecutive_failures"], 0, "{st}");
    assert!(st["locked_until"].is_null(), "{st}");
}

/// Refresh `rt` with the web client; returns the status and body.
async fn refresh(app: &TestApp, client: &TestClient, rt: &str) -> (StatusCode, Value) {
    app.token(
        "acme",
        &client.id,
        &client.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

/// SECURITY.md F7: the directory's account state is re-checked on refresh. An entry
/// removed from the directory ends the grant (`invalid_grant`, family revoked, audited);
/// a directory that cannot answer fails closed with `temporarily_unavailable`, leaving
/// the token unused; bounded by the connection's timeout.
async fn f7_a_user_removed_from_the_directory_loses_the_refresh_grant(backend: Backend) {
    let Some(mut dir) = Slapd::start(None).await else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (client, t, _) = tenant(
        &app,
        connection(
            &dir.url,
            json!({"account_recheck_secs": 0, "timeout_secs": 2}),
        ),
    )
    .await;
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/connections",
            Some(json!({"name": "bad", "kind": "ldap", "url": dir.url, "bind_dn": SVC_DN,
                        "bind_password": SVC_PW, "user_base_dn": BASE, "account_recheck_secs": 3601})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "account_recheck_secs", "{b}");

    let alice = app.code_flow("acme", &client, "alice", "alice-pw").await;
    let bob = app.code_flow("acme", &client, "bob", "bob-pw").await;
    let (s, first) = refresh(&app, &client, alice["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let alice_rt = first["refresh_token"].as_str().unwrap().to_owned();

    dir.modify(&format!(
        "dn: uid=alice,ou=people,{BASE}\nchangetype: delete\n"
    ))
    .await;
    let (s, b) = refresh(&app, &client, &alice_rt).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"], "invalid_grant", "{b}");
    // The family is revoked: its access token is dead too.
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &client, at).await["active"], false);
    let (_, events) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/audit?action=token.refresh_refused",
            None,
        )
        .await;
    assert_eq!(
        events["items"][0]["diff"]["reason"], "entry_gone",
        "{events}"
    );
    // Bob is untouched.
    let (s, b) = refresh(&app, &client, bob["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let bob_rt = b["refresh_token"].as_str().unwrap().to_owned();

    // The directory goes down: fail closed, quickly, and the token stays usable.
    dir.stop().await;
    let started = std::time::Instant::now();
    let (s, b) = refresh(&app, &client, &bob_rt).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["error"], "temporarily_unavailable", "{b}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // A local user's refresh does not depend on the directory.
    let carol = app
        .code_flow("acme", &client, "carol", "carol local password")
        .await;
    let (s, b) = refresh(&app, &client, carol["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}
