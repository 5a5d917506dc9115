//! ACL test world: one subscription with a code-flow client, a resource server allowed
//! to introspect, and helpers to provision workspaces, groups, apps and users through
//! the admin API and to ask `/introspect` and `/acl/evaluate` about them.

use crate::{TestApp, TestClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The password of every ACL test user.
pub const PASSWORD: &str = "correct horse battery";

/// A subscription prepared for ACL tests.
pub struct World<'a> {
    /// The app.
    pub app: &'a TestApp,
    /// Subscription slug.
    pub slug: String,
    /// System admin token.
    pub admin: String,
    /// Code-flow client (also allowed to introspect and to exchange tokens).
    pub web: TestClient,
    /// Resource server (introspection only).
    pub rs: TestClient,
    /// User ids by username.
    pub users: HashMap<String, String>,
}

impl<'a> World<'a> {
    /// A new subscription `slug` with its clients.
    pub async fn new(app: &'a TestApp, slug: &str) -> World<'a> {
        app.create_subscription(slug).await;
        let web = app
            .create_client(slug, json!({"name": "web", "redirect_uris": ["https://c1.example/cb"],
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"],
                "scope": "openid profile email offline_access", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
            .await;
        let rs = app
            .create_client(
                slug,
                json!({"name": "rs", "grant_types": ["client_credentials"], "scope": "read",
                "token_endpoint_auth_method": "client_secret_basic", "introspection": true}),
            )
            .await;
        World {
            app,
            slug: slug.to_owned(),
            admin: app.system_token().await,
            web,
            rs,
            users: HashMap::new(),
        }
    }

    /// An admin call under `/subscriptions/{slug}`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.app
            .admin(
                &self.admin,
                method,
                &format!("/subscriptions/{}{path}", self.slug),
                body,
            )
            .await
    }

    /// An admin call that must succeed with `expect`.
    pub async fn must(
        &self,
        expect: StatusCode,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (s, b) = self.call(method.clone(), path, body).await;
        assert_eq!(s, expect, "{method} {path}: {b}");
        b
    }

    /// Create a user with attributes; returns its id.
    pub async fn user_with(&mut self, name: &str, attributes: Value) -> String {
        let b = self
            .must(
                StatusCode::CREATED,
                Method::POST,
                "/users",
                Some(json!({"username": name, "password": PASSWORD, "attributes": attributes})),
            )
            .await;
        let id = b["id"].as_str().unwrap().to_owned();
        self.users.insert(name.to_owned(), id.clone());
        id
    }

    /// Create a user; returns its id.
    pub async fn user(&mut self, name: &str) -> String {
        self.user_with(name, json!({})).await
    }

    /// The id of user `name`.
    pub fn id(&self, name: &str) -> String {
        self.users
            .get(name)
            .unwrap_or_else(|| panic!("no user {name}"))
            .clone()
    }

    /// Create workspace `ws`.
    pub async fn workspace(&self, ws: &str) {
        self.must(
            StatusCode::CREATED,
            Method::POST,
            "/workspaces",
            Some(json!({"slug": ws, "name": ws})),
        )
        .await;
    }

    /// Make `user` a participant of `ws` with `role`.
    pub async fn participant(&self, ws: &str, user: &str, role: &str) {
        let (s, b) = self
            .call(
                Method::PUT,
                &format!("/workspaces/{ws}/participants/{}", self.id(user)),
                Some(json!({"role": role})),
            )
            .await;
        assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{s}: {b}");
    }

    /// Create group `name` in `ws` with `members`.
    pub async fn group(&self, ws: &str, name: &str, members: &[&str]) {
        self.must(
            StatusCode::CREATED,
            Method::POST,
            &format!("/workspaces/{ws}/groups"),
            Some(json!({"name": name})),
        )
        .await;
        for m in members {
            self.member(ws, name, m).await;
        }
    }

    /// Add `user` to group `name` of `ws`.
    pub async fn member(&self, ws: &str, name: &str, user: &str) {
        let path = format!(
            "/workspaces/{ws}/groups/{}/members/{}",
            encode(name),
            self.id(user)
        );
        let (s, b) = self.call(Method::PUT, &path, None).await;
        assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{s}: {b}");
    }

    /// Create app `slug` in `ws`.
    pub async fn app(&self, ws: &str, slug: &str, grants: Value, fields: Value) {
        self.must(
            StatusCode::CREATED,
            Method::POST,
            &format!("/workspaces/{ws}/apps"),
            Some(json!({"slug": slug, "name": slug, "grants": grants, "fields": fields})),
        )
        .await;
    }

    /// An access token of `user` through the code flow.
    pub async fn login(&self, user: &str) -> String {
        let t = self
            .app
            .code_flow(&self.slug, &self.web, user, PASSWORD)
            .await;
        t["access_token"].as_str().unwrap().to_owned()
    }

    /// Introspect `token` as the resource server with extra parameters.
    pub async fn introspect(&self, token: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form = vec![("token", token)];
        form.extend_from_slice(extra);
        let resp = self
            .app
            .http
            .post(format!("{}/t/{}/introspect", self.app.base, self.slug))
            .basic_auth(&self.rs.id, Some(&self.rs.secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    /// The `acl` member of introspection for (`ws`, `app`?, `record`?).
    pub async fn acl(
        &self,
        token: &str,
        ws: &str,
        app: Option<&str>,
        record: Option<Value>,
    ) -> Value {
        let record = record.map(|r| r.to_string());
        let mut extra = vec![("acl_workspace", ws)];
        if let Some(a) = app {
            extra.push(("acl_app", a));
        }
        if let Some(r) = &record {
            extra.push(("acl_record", r.as_str()));
        }
        let (s, b) = self.introspect(token, &extra).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["active"], true, "{b}");
        b["acl"].clone()
    }

    /// The decision of introspection for (`ws`, `app`, `record`?).
    pub async fn decision(&self, token: &str, ws: &str, app: &str, record: Option<Value>) -> Value {
        self.acl(token, ws, Some(app), record).await["decision"].clone()
    }

    /// `POST /acl/evaluate` as the resource server.
    pub async fn evaluate(&self, body: Value) -> (StatusCode, Value) {
        let resp = self
            .app
            .http
            .post(format!("{}/t/{}/acl/evaluate", self.app.base, self.slug))
            .basic_auth(&self.rs.id, Some(&self.rs.secret))
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    /// The decisions of `/acl/evaluate` for `records`.
    pub async fn decisions(&self, token: &str, ws: &str, app: &str, records: Value) -> Vec<Value> {
        let (s, b) = self
            .evaluate(json!({"token": token, "workspace": ws, "app": app, "records": records}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["decisions"]
            .as_array()
            .unwrap_or_else(|| panic!("no decisions: {b}"))
            .clone()
    }
}

/// Percent-encode a path segment (group names may contain spaces).
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// An allowed decision with `actions` and `fields` (no record id).
pub fn allowed(actions: &[&str], fields: Value) -> Value {
    json!({"allowed": true, "denied_at": null, "actions": actions, "fields": fields})
}

/// A denied decision at `layer` (no record id).
pub fn denied(layer: &str) -> Value {
    json!({"allowed": false, "denied_at": layer, "actions": [], "fields": {}})
}

/// All six actions.
pub const ALL: [&str; 6] = ["read", "create", "edit", "delete", "manage_lists", "admin"];
