//! The browser-login load generator of bench/run.py: `WORKERS` concurrent browsers, each
//! running the HTML login (GET /authorize, GET the login page, POST the form) in a loop
//! for `SECONDS`, and printing `{"count", "seconds", "p50_ms", "p99_ms"}` as JSON.
//!
//! It replaces a Python driver whose own CPU, on the 2 cores it shares with the server,
//! cost the measured login rate about a sixth of what argon2id allows: a login is three
//! HTTP requests, cheap for the server next to the hash but not for an interpreter.
//! Like wrk, it runs on one thread.
//!
//! `login_load MODE BASE SLUG CLIENT_ID CLIENT_SECRET REDIRECT USER_PREFIX PASSWORD WORKERS SECONDS`
//! where MODE is `login` (stop at the code), `code` (also redeem it) or `session` (log in
//! once per worker, then loop /authorize + redeem on that session). Worker i signs in as
//! `USER_PREFIX` + i.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What one measured iteration does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// /authorize, the login page and the form POST, ending at the code.
    Login,
    /// The same, then the code redeemed at /token.
    Code,
    /// /authorize on a signed-in browser, then the code redeemed.
    Session,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        match s {
            "login" => Some(Mode::Login),
            "code" => Some(Mode::Code),
            "session" => Some(Mode::Session),
            _ => None,
        }
    }
}

#[derive(Clone)]
struct Flow {
    mode: Mode,
    base: String,
    slug: String,
    client_id: String,
    client_secret: String,
    redirect: String,
    password: String,
}

/// One browser: a connection and a cookie jar.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

type Failure = Box<dyn std::error::Error>;

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(
        &mut self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, Option<String>, String), Failure> {
        let req = match self.cookies.is_empty() {
            true => req,
            false => {
                let jar: Vec<String> = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                req.header(COOKIE, jar.join("; "))
            }
        };
        let resp = req.send().await?;
        for c in resp.headers().get_all(SET_COOKIE) {
            let pair = c.to_str()?.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((resp.status().as_u16(), location, resp.text().await?))
    }

    /// GET /authorize with a fresh PKCE pair: where it redirects, and the verifier.
    async fn authorize(&mut self, f: &Flow) -> Result<(String, String), Failure> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let verifier = URL_SAFE_NO_PAD.encode(raw);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let url = format!("{}/t/{}/authorize", f.base, f.slug);
        let query = [
            ("response_type", "code"),
            ("client_id", &f.client_id),
            ("redirect_uri", &f.redirect),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        let (status, location, _) = self.send(self.http.get(url).query(&query)).await?;
        match (status, location) {
            (302 | 303, Some(loc)) => Ok((absolute(f, &loc), verifier)),
            (s, _) => Err(format!("/authorize answered {s}").into()),
        }
    }

    /// GET the login page and POST its form: the callback URL with the code.
    async fn login(&mut self, f: &Flow, page: &str, user: &str) -> Result<String, Failure> {
        let (status, _, html) = self.send(self.http.get(page)).await?;
        if status != 200 {
            return Err(format!("the login page answered {status}").into());
        }
        let form = [
            ("tx", field(&html, "tx")?),
            ("csrf", field(&html, "csrf")?),
            ("username", user),
            ("password", &f.password),
            ("action", "login"),
        ];
        let action = page.split('?').next().unwrap_or(page);
        let (status, location, _) = self.send(self.http.post(action).form(&form)).await?;
        match location {
            Some(loc) if loc.starts_with(&f.redirect) => Ok(loc),
            _ => Err(format!("the login POST answered {status}").into()),
        }
    }

    /// Redeem the code of `callback` at the token endpoint.
    async fn exchange(&mut self, f: &Flow, callback: &str, verifier: &str) -> Result<(), Failure> {
        let url = url::Url::parse(callback)?;
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or("no code in the callback")?;
        let basic = STANDARD.encode(format!("{}:{}", f.client_id, f.client_secret));
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &f.redirect),
            ("code_verifier", verifier),
        ];
        let req = self
            .http
            .post(format!("{}/t/{}/token", f.base, f.slug))
            .header(AUTHORIZATION, format!("Basic {basic}"))
            .form(&form);
        match self.send(req).await? {
            (200, _, _) => Ok(()),
            (s, _, body) => Err(format!("the code exchange answered {s}: {body:.200}").into()),
        }
    }
}

fn absolute(f: &Flow, location: &str) -> String {
    match location.starts_with('/') {
        true => format!("{}{location}", f.base),
        false => location.to_owned(),
    }
}

/// The value of the hidden input `name` of the login form.
fn field<'a>(html: &'a str, name: &str) -> Result<&'a str, Failure> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).ok_or(format!("no {name} field"))? + marker.len();
    let len = html[start..]
        .find('"')
        .ok_or(format!("unterminated {name} field"))?;
    Ok(&html[start..start + len])
}

/// One measured iteration of `mode` for the worker signed in as `user`.
async fn once(b: &mut Browser, f: &Flow, user: &str) -> Result<(), Failure> {
    let (next, verifier) = b.authorize(f).await?;
    let callback = match f.mode {
        Mode::Session if next.starts_with(&f.redirect) => next,
        Mode::Session => return Err("the session did not answer with a code".into()),
        Mode::Login | Mode::Code => b.login(f, &next, user).await?,
    };
    match f.mode {
        Mode::Login => Ok(()),
        Mode::Code | Mode::Session => b.exchange(f, &callback, &verifier).await,
    }
}

async fn worker(f: Flow, user: String, deadline: Instant) -> Result<Vec<Duration>, String> {
    let mut b = Browser::new();
    if f.mode == Mode::Session {
        let (page, verifier) = b.authorize(&f).await.map_err(|e| e.to_string())?;
        let callback = b.login(&f, &page, &user).await.map_err(|e| e.to_string())?;
        b.exchange(&f, &callback, &verifier)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut took = Vec::new();
    while Instant::now() < deadline {
        if f.mode != Mode::Session {
            // A new browser per login, as the Python driver had: no cookie carries over.
            b.cookies.clear();
        }
        let t0 = Instant::now();
        once(&mut b, &f, &user).await.map_err(|e| e.to_string())?;
        took.push(t0.elapsed());
    }
    Ok(took)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [mode, base, slug, client_id, client_secret, redirect, prefix, password, workers, seconds] =
        <[String; 10]>::try_from(a).unwrap_or_else(|_| {
            eprintln!("usage: login_load MODE BASE SLUG CLIENT_ID CLIENT_SECRET REDIRECT USER_PREFIX PASSWORD WORKERS SECONDS");
            std::process::exit(2)
        });
    let Some(mode) = Mode::parse(&mode) else {
        eprintln!("login_load: MODE is login, code or session, not {mode:?}");
        std::process::exit(2)
    };
    let flow = Flow {
        mode,
        base,
        slug,
        client_id,
        client_secret,
        redirect,
        password,
    };
    let workers: usize = workers.parse().expect("WORKERS");
    let seconds: f64 = seconds.parse().expect("SECONDS");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let runs = (0..workers).map(|i| worker(flow.clone(), format!("{prefix}{i}"), deadline));
    let mut all = Vec::new();
    for result in futures_util::future::join_all(runs).await {
        match result {
            Ok(took) => all.extend(took),
            Err(e) => {
                eprintln!("login_load: {e}");
                std::process::exit(1);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let q = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        serde_json::json!({"count": all.len(), "seconds": elapsed, "p50_ms": q(0.5), "p99_ms": q(0.99)})
    );
}
