//! The public admin API, in-process: the same actix routes the server registers
//! (`http::admin::configure`), built into a service on the configured store and called
//! with requests that never touch a socket. Each request carries an
//! [`InProcess`] extension naming the system administrator `cli`, which only this process
//! can attach (it is no header or token), so the CLI has full parity with the API — and
//! with the console, which uses nothing else — by construction: the same validation,
//! authorization, field errors and audit events.

use crate::http::admin::{self as admin_http, InProcess};
use crate::service::admin::Principal;
use crate::service::{Actor, Ctx, tenants};
use actix_http::Request;
use actix_service::boxed::{self, BoxService};
use actix_web::dev::{AppConfig, Payload, Service, ServiceFactory, ServiceResponse};
use actix_web::http::{Method, StatusCode, Uri, header};
use actix_web::{App, web};
use anyhow::Context;
use serde_json::Value;

/// The admin API's base path.
pub const BASE: &str = "/admin/v1";

/// The admin API as a service of this process.
pub struct AdminApi {
    service: BoxService<Request, ServiceResponse, actix_web::Error>,
    principal: Principal,
    ctx: Ctx,
}

/// An answer of the API: the status and the JSON body (`Null` when there is none).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Parsed JSON body.
    pub body: Value,
}

/// A refusal of the API: its status and error body (`{error, field, message}`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe(.status, .error, .field.as_deref(), .message))]
pub struct ApiFailure {
    /// HTTP status.
    pub status: StatusCode,
    /// The API's error code (`invalid_request`, `not_found`, `conflict`, …).
    pub error: String,
    /// The field to blame, when there is one.
    pub field: Option<String>,
    /// The API's description.
    pub message: String,
}

fn describe(status: &StatusCode, error: &str, field: Option<&str>, message: &str) -> String {
    match field {
        Some(f) => format!("{error} (HTTP {}): {f}: {message}", status.as_u16()),
        None => format!("{error} (HTTP {}): {message}", status.as_u16()),
    }
}

impl Answer {
    /// The body on a 2xx status, the API's error otherwise.
    pub fn ok(self) -> Result<Value, ApiFailure> {
        if self.status.is_success() {
            return Ok(self.body);
        }
        let text = |k: &str| self.body.get(k).and_then(Value::as_str).map(str::to_owned);
        // Routing misses (an unknown path or method) come from actix with no body.
        let (error, message) = match self.status {
            StatusCode::NOT_FOUND if self.body.is_null() => (
                "not_found".to_owned(),
                "no such path in the admin API".to_owned(),
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed".to_owned(),
                "this path does not take that method".to_owned(),
            ),
            _ => (
                text("error").unwrap_or_else(|| "error".to_owned()),
                text("message")
                    .or_else(|| text("error_description"))
                    .unwrap_or_else(|| "the request failed".to_owned()),
            ),
        };
        Err(ApiFailure {
            status: self.status,
            error,
            field: text("field"),
            message,
        })
    }
}

impl AdminApi {
    /// Build the admin routes on `ctx`, acting as the system administrator `cli`.
    pub async fn new(ctx: Ctx) -> anyhow::Result<AdminApi> {
        let system = tenants::resolve(&ctx, tenants::SYSTEM)
            .await
            .context("the system subscription is missing")?;
        let principal = Principal {
            home: system,
            system: true,
            actor: Actor {
                user_id: None,
                client_id: Some("cli".into()),
                act: None,
                request_id: None,
                ip: None,
            },
        };
        let app = App::new()
            .app_data(web::Data::new(ctx.clone()))
            .configure(admin_http::configure);
        let factory = actix_service::IntoServiceFactory::into_factory(app);
        let service = factory
            .new_service(AppConfig::default())
            .await
            .map_err(|()| anyhow::anyhow!("cannot build the admin API"))?;
        Ok(AdminApi {
            service: boxed::service(service),
            principal,
            ctx,
        })
    }

    /// The services behind the API, for the operations that have no HTTP form (moving a
    /// subscription between deployments through a file).
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Who the commands act as (audit events name the `cli` client).
    pub fn actor(&self) -> &Actor {
        &self.principal.actor
    }

    /// Call `/admin/v1/{path}` (`path` may carry a query) with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let uri: Uri = format!("{BASE}/{}", path.trim_start_matches('/'))
            .parse()
            .with_context(|| format!("not a valid API path: {path}"))?;
        let mut req = match body {
            Some(b) => Request::with_payload(Payload::from(serde_json::to_vec(b)?)),
            None => Request::new(),
        };
        let head = req.head_mut();
        head.method = method;
        head.uri = uri;
        if body.is_some() {
            head.headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
        }
        actix_web::HttpMessage::extensions_mut(&req).insert(InProcess::new(self.principal.clone()));
        let resp = self
            .service
            .call(req)
            .await
            .map_err(|e| anyhow::anyhow!("the admin API failed: {e}"))?;
        let status = resp.status();
        let bytes = actix_web::body::to_bytes(resp.into_body())
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the admin API's answer: {e}"))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Answer { status, body })
    }

    /// Call and return the body of a success, or the API's error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        Ok(self.call(method, path, body).await?.ok()?)
    }

    /// Every item of a paged listing, following `next` cursors.
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page_path = match &after {
                Some(a) => format!("{path}{sep}limit=200&after={}", query_value(a)),
                None => format!("{path}{sep}limit=200"),
            };
            let page = self.send(Method::GET, &page_path, None).await?;
            if let Some(list) = page.get("items").and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            }
            match page.get("next").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => after = Some(n.to_owned()),
                _ => return Ok(items),
            }
        }
    }
}

/// Percent-encode one query value.
pub fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Percent-encode one path segment (the console's rule: `.` and `..` never pass).
pub use crate::http::console::seg;
