//! The console's only way to read or change anything: the public admin API
//! (`/admin/v1`) and the public token endpoint, called over HTTP with the signed-in
//! admin's bearer token. Requests go to `AUTH_PUBLIC_URL` but are connected to this
//! instance's own listener, so the console needs no hairpin through a load balancer and
//! still validates the TLS certificate for the public host name.

use actix_web::http::StatusCode;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// An HTTP client for this server's own public API.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// An answer of the API: status and JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Parsed JSON body.
    pub body: Value,
}

impl Answer {
    /// The API's `message` (or `error_description`) for a failure, for the page.
    pub fn message(&self) -> String {
        let field = self.body.get("field").and_then(Value::as_str);
        let msg = self
            .body
            .get("message")
            .or_else(|| self.body.get("error_description"))
            .and_then(Value::as_str)
            .unwrap_or("the request failed");
        match field {
            Some(f) => format!("{f}: {msg}"),
            None => msg.to_owned(),
        }
    }
}

/// The API could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("the admin API is unreachable")]
pub struct Unreachable;

impl Api {
    /// A client for `public_url`, connected to `local` (the bound listener).
    pub fn new(public_url: &url::Url, local: SocketAddr) -> Result<Api, reqwest::Error> {
        // A wildcard listener is reached on loopback.
        let ip = match local.ip() {
            std::net::IpAddr::V4(v) if v.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(v) if v.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            other => other,
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30));
        if let Some(host) = public_url.host_str() {
            builder = builder.resolve(host, SocketAddr::new(ip, local.port()));
        }
        Ok(Api {
            http: builder.build()?,
            base: public_url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// Call `/admin/v1{path}` with `token`.
    pub async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Unreachable> {
        let mut req = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::answer(req).await
    }

    /// POST a form to `/t/{slug}/token` as the public console client.
    pub async fn token(&self, slug: &str, form: &[(&str, &str)]) -> Result<Answer, Unreachable> {
        let req = self
            .http
            .post(format!("{}/t/{slug}/token", self.base))
            .form(form);
        Self::answer(req).await
    }

    /// Revoke a token at `/t/{slug}/revoke` (RFC 7009) as the public console client.
    pub async fn revoke(
        &self,
        slug: &str,
        token: &str,
        client_id: &str,
    ) -> Result<Answer, Unreachable> {
        let req = self
            .http
            .post(format!("{}/t/{slug}/revoke", self.base))
            .form(&[("token", token), ("client_id", client_id)]);
        Self::answer(req).await
    }

    async fn answer(req: reqwest::RequestBuilder) -> Result<Answer, Unreachable> {
        let resp = req.send().await.map_err(|e| {
            tracing::error!(error = %e, "console: admin API call failed");
            Unreachable
        })?;
        let status =
            StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let bytes = resp.bytes().await.map_err(|_| Unreachable)?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}
