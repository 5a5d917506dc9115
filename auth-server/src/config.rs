//! Server configuration: [`Settings`] from built-in defaults, overridden by an optional TOML
//! file (`--config`), overridden by `AUTH_*` variables. [`Settings::from_sources`] skips the
//! process environment, so that parallel tests build settings in code.
//!
//! TOML keys are the variable names lower-cased without `AUTH_`; an unknown key is an error (a
//! typo must not leave a default in force), an unknown `AUTH_*` variable is ignored (CI sets
//! `AUTH_TEST_*`). Everything is checked before any socket or database is touched, and a bad
//! value stops the server with one [`ConfigError`] line naming the variable or key. Neither
//! errors nor `Debug` show a secret; URLs are shown without credentials and query.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use url::Url;

use crate::domain::TrustedProxies;

const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
const BOTH: &str = "expected both, to serve HTTPS, or neither";

/// One line per variable: name, default (`-`: unset), meaning. The list of known variables
/// is read from here, so `--help` cannot forget one.
const HELP: &str = "\
AUTH_PUBLIC_URL           http://127.0.0.1:8080  external base URL (http/https); issuers are {public_url}/t/{slug}
AUTH_LISTEN               127.0.0.1:8080         socket address to bind (host:port; port 0 picks a free port)
AUTH_DATA_DIR             ./data                 directory for the SQLite file and generated secrets
AUTH_DATABASE_URL         -                      sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB; unset: sqlite in AUTH_DATA_DIR
AUTH_REDIS_URL            -                      redis://, rediss://, valkey(s)://, redis+unix://, unix://, redis+cluster://H:P,H:P or redis+sentinel://H:P,H:P/MASTER URL; unset: in-process store
AUTH_REDIS_CA_FILE        -                      PEM CA certificates trusted, besides the system roots, for a rediss:// AUTH_REDIS_URL (private PKI)
AUTH_MASTER_KEY           -                      32 bytes as base64 (standard or URL-safe) or 64 hex chars; unset: generated into AUTH_DATA_DIR
AUTH_TLS_CERT             -                      PEM certificate chain; set with AUTH_TLS_KEY to serve HTTPS directly
AUTH_TLS_KEY              -                      PEM private key for AUTH_TLS_CERT
AUTH_ADMIN_CLIENT_ID      admin                  client id of the bootstrap admin client ([A-Za-z0-9._~-], 1-128 chars)
AUTH_ADMIN_CLIENT_SECRET  -                      its secret, at least 32 chars; unset: generated into AUTH_DATA_DIR/admin-client-secret
AUTH_LOG                  info                   tracing filter, e.g. info,auth_server=debug
AUTH_LOG_FORMAT           text                   log line format: text (human) or json (one object per line)
AUTH_ACCESS_TOKEN_TTL     300                    access token lifetime in seconds (30-86400)
AUTH_ID_TOKEN_TTL         300                    ID token lifetime in seconds (30-86400)
AUTH_REFRESH_TOKEN_TTL    2592000                refresh token idle lifetime in seconds (300-31536000)
AUTH_REFRESH_GRACE        10                     seconds a rotated refresh token still works, for racing retries (0-60)
AUTH_CIMD_ALLOW_LOOPBACK  false                  test mode: accept http client-id metadata documents on 127.0.0.1 (never in production)
AUTH_CIMD_CA_FILE         -                      PEM CA certificates trusted, besides the public roots, when fetching client-id metadata documents
AUTH_CODE_TTL             60                     authorization code lifetime in seconds (10-600)
AUTH_SESSION_TTL          28800                  browser login session lifetime in seconds (300-2592000)
AUTH_DB_MAX_CONNECTIONS   16                     database pool size (1-1000)
AUTH_AUDIT_SINK           -                      also stream audit events as JSON lines: stdout, or a file path (appended)
AUTH_TRUSTED_PROXIES      -                      comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; unset: none
AUTH_IP_RATE_LIMIT        600000                 requests per minute per client address at token, introspection and revocation (0: off)
AUTH_LOGIN_IP_RATE_LIMIT  60                     login and 2FA form posts per minute per client address (1-100000)
AUTH_DEV_MODE             false                  development only: accept a plain-http AUTH_PUBLIC_URL on a host other than loopback
AUTH_INSTANCES            1                      instances sharing Redis; while Redis is down each enforces 1/N of every rate limit (1-1000)
";

/// The server's configuration, validated. `Debug` redacts every secret.
#[derive(Clone)]
pub struct Settings {
    /// External base URL. `as_str()` ends in `/` only when the path is the root (the `url`
    /// crate always writes a root path); use [`Settings::issuer`] to build issuer URLs.
    pub public_url: Url,
    /// Address the HTTP(S) listener binds.
    pub listen: SocketAddr,
    /// Directory for the default SQLite database and generated secrets.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Redis (or Valkey) URL for shared ephemeral state; `None` means in-process.
    pub redis_url: Option<String>,
    /// Extra CA certificates (PEM) trusted for `rediss://`; only with a TLS Redis URL.
    pub redis_ca_file: Option<PathBuf>,
    /// Master key text, format already checked; decode it with `tokens::MasterKey::parse`.
    pub master_key: Option<SecretString>,
    /// PEM certificate chain; set exactly when `tls_key` is set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key; set exactly when `tls_cert` is set.
    pub tls_key: Option<PathBuf>,
    /// Client id of the bootstrap admin client in the `system` subscription.
    pub admin_client_id: String,
    /// Secret of the bootstrap admin client (at least 32 characters) or `None` to generate one.
    pub admin_client_secret: Option<SecretString>,
    /// `tracing_subscriber::EnvFilter` directives.
    pub log: String,
    /// Log lines as JSON objects (`AUTH_LOG_FORMAT=json`) instead of text.
    pub log_json: bool,
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// ID token lifetime, seconds.
    pub id_token_ttl: u64,
    /// Refresh token idle lifetime, seconds.
    pub refresh_token_ttl: u64,
    /// Seconds a just-rotated refresh token is still accepted (client retry races).
    pub refresh_grace: u64,
    /// Test mode: client-id metadata documents may live on `http://127.0.0.1`.
    pub cimd_allow_loopback: bool,
    /// Extra CA certificates (PEM) for fetching client-id metadata documents.
    pub cimd_ca_file: Option<PathBuf>,
    /// Authorization code lifetime, seconds.
    pub code_ttl: u64,
    /// Browser login session lifetime, seconds.
    pub session_ttl: u64,
    /// Maximum database pool connections.
    pub db_max_connections: u32,
    /// AUTH_AUDIT_SINK: `stdout` or a file to append audit events to as JSON lines.
    pub audit_sink: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (RFC 9700 §4.13).
    pub trusted_proxies: TrustedProxies,
    /// Requests per minute per client address at token, introspection and revocation; 0: off.
    pub ip_rate_limit: u32,
    /// Login and 2FA form posts per minute per client address.
    pub login_ip_rate_limit: u32,
    /// Development mode: a plain-http public URL may name a host other than loopback.
    pub dev_mode: bool,
    /// Expected number of instances sharing Redis: during a Redis outage each instance
    /// enforces the rate limits divided by it (SECURITY.md §5.2), at least 1.
    pub instances: u32,
}

/// A configuration problem: which variable (or TOML key, or file) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// `AUTH_*` variable, TOML key or config file path.
    pub var: String,
    /// What is wrong and what is expected; never contains a secret.
    pub reason: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // `Url` has no infallible constructor; the tests prove that this literal parses.
            public_url: Url::parse(DEFAULT_PUBLIC_URL)
                .unwrap_or_else(|e| unreachable!("default public URL: {e}")),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_ca_file: None,
            master_key: None,
            tls_cert: None,
            tls_key: None,
            admin_client_id: "admin".to_owned(),
            admin_client_secret: None,
            log: "info".to_owned(),
            log_json: false,
            access_token_ttl: 300,
            id_token_ttl: 300,
            refresh_token_ttl: 2_592_000,
            refresh_grace: 10,
            cimd_allow_loopback: false,
            cimd_ca_file: None,
            code_ttl: 60,
            session_ttl: 28_800,
            db_max_connections: 16,
            audit_sink: None,
            trusted_proxies: TrustedProxies::default(),
            ip_rate_limit: 600_000,
            login_ip_rate_limit: 60,
            dev_mode: false,
            instances: 1,
        }
    }
}

impl Settings {
    /// Defaults <- TOML file (if given) <- `AUTH_*` variables of the process environment,
    /// then validate.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let file = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path);
                let origin = path.display().to_string();
                let reason = |e| format!("cannot be read ({e}; expected a TOML file)");
                Some((text.map_err(|e| err(&origin, reason(e)))?, origin))
            }
            None => None,
        };
        // `vars_os`, not `vars`, which panics on any non-UTF-8 variable in the environment.
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
            .filter(|(k, _)| k.starts_with("AUTH_"))
            .collect();
        build(file.as_ref().map(|(t, p)| (t.as_str(), p.as_str())), &env)
    }

    /// Same as [`Settings::load`], from explicit sources (tests; env is process-global and
    /// tests run in parallel). TOML syntax errors name `config file`.
    pub fn from_sources(
        toml: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        build(toml.map(|t| (t, "config file")), env)
    }

    /// The effective database URL: `database_url` or `sqlite://{data_dir}/auth.db?mode=rwc`
    /// (`mode=rwc` so that the first start creates the file).
    pub fn effective_database_url(&self) -> String {
        let file = self.data_dir.join("auth.db");
        let default = || format!("sqlite://{}?mode=rwc", file.display());
        self.database_url.clone().unwrap_or_else(default)
    }

    /// `{public_url}/t/{slug}` without a trailing slash.
    pub fn issuer(&self, slug: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        [base, "/t/", slug.trim_matches('/')].concat()
    }

    /// The database for the start and stop log lines: kind, host, port and database
    /// name or file, never credentials or query parameters (which may hold a password).
    pub fn database_summary(&self) -> String {
        let url = self.effective_database_url();
        if let Some(path) = url.strip_prefix("sqlite://") {
            return format!("sqlite:{}", path.split('?').next().unwrap_or_default());
        }
        match Url::parse(&url) {
            Ok(u) => format!(
                "postgres:{}:{}{}",
                u.host_str().unwrap_or("(socket)"),
                u.port().unwrap_or(5432),
                u.path()
            ),
            Err(_) => "postgres:(unparsable URL, not shown)".to_owned(),
        }
    }

    /// Redis for the start and stop log lines: kind and hosts (or socket), TLS and the
    /// extra CA file, never credentials.
    pub fn redis_summary(&self) -> String {
        let Some(url) = &self.redis_url else {
            return "in-process".to_owned();
        };
        let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let location = rest.rsplit_once('@').map_or(rest, |(_, l)| l);
        let ca = match &self.redis_ca_file {
            Some(f) => format!("+ca:{}", f.display()),
            None => String::new(),
        };
        format!(
            "{}:{}{ca}",
            scheme.to_ascii_lowercase(),
            location.trim_end_matches('/')
        )
    }

    /// Every variable with its default and meaning, for `--help` (one line each).
    pub fn help_table() -> &'static str {
        HELP
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("public_url", &self.public_url.as_str())
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(echo_url))
            .field("redis_url", &self.redis_url.as_deref().map(echo_url))
            .field("redis_ca_file", &self.redis_ca_file)
            // SecretString's own Debug prints `[REDACTED]`.
            .field("master_key", &self.master_key)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("admin_client_id", &self.admin_client_id)
            .field("admin_client_secret", &self.admin_client_secret)
            .field("log", &self.log)
            .field("log_json", &self.log_json)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("id_token_ttl", &self.id_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("refresh_grace", &self.refresh_grace)
            .field("cimd_allow_loopback", &self.cimd_allow_loopback)
            .field("cimd_ca_file", &self.cimd_ca_file)
            .field("code_ttl", &self.code_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("db_max_connections", &self.db_max_connections)
            .field("audit_sink", &self.audit_sink)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("ip_rate_limit", &self.ip_rate_limit)
            .field("login_ip_rate_limit", &self.login_ip_rate_limit)
            .field("dev_mode", &self.dev_mode)
            .field("instances", &self.instances)
            .finish()
    }
}

fn err(var: &str, reason: impl Into<String>) -> ConfigError {
    let (var, reason) = (var.to_owned(), reason.into());
    ConfigError { var, reason }
}

/// Attaches a parser's reason to the variable or key the value came from.
fn at<T>(var: &str, parsed: Result<T, String>) -> Result<T, ConfigError> {
    parsed.map_err(|reason| err(var, reason))
}

/// The `AUTH_*` names, in `--help` order.
fn variables() -> impl Iterator<Item = &'static str> {
    HELP.lines().filter_map(|l| l.split_whitespace().next())
}

/// `AUTH_*` name -> value.
type Env = BTreeMap<String, String>;

fn build(toml: Option<(&str, &str)>, env: &Env) -> Result<Settings, ConfigError> {
    // (key, name to blame, value), applied in order so that the environment wins. An unknown
    // file key gets a placeholder value, so the match below rejects it whatever its type.
    let mut given = Vec::new();
    if let Some((text, origin)) = toml {
        let table = toml::Table::from_str(text).map_err(|e| err(origin, toml_reason(&e)))?;
        for (key, value) in table {
            let value = match value {
                _ if !variables().any(|v| key_of(v) == key) => String::from("?"),
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    let got = other.type_str();
                    let reason = format!("is a TOML {got} (expected a string or integer)");
                    return Err(err(&key, reason));
                }
            };
            given.push((key.clone(), key, value));
        }
    }
    for var in variables() {
        if let Some(value) = env.get(var) {
            given.push((key_of(var), var.to_owned(), value.clone()));
        }
    }
    let mut s = Settings::default();
    // An empty value is "not given": compose turns unset host variables into "".
    for (key, var, v) in given.iter().filter(|(_, _, v)| !v.is_empty()) {
        match key.as_str() {
            "public_url" => s.public_url = at(var, public_url(v))?,
            "listen" => s.listen = at(var, socket_addr(v))?,
            "data_dir" => s.data_dir = PathBuf::from(v),
            "database_url" => s.database_url = Some(at(var, database_url(v))?),
            "redis_url" => s.redis_url = Some(at(var, redis_url(v))?),
            "redis_ca_file" => s.redis_ca_file = Some(at(var, readable_file(v))?),
            "master_key" => s.master_key = Some(at(var, master_key(v))?),
            "tls_cert" => s.tls_cert = Some(at(var, readable_file(v))?),
            "tls_key" => s.tls_key = Some(at(var, readable_file(v))?),
            "admin_client_id" => s.admin_client_id = at(var, admin_client_id(v))?,
            "admin_client_secret" => s.admin_client_secret = Some(at(var, admin_secret(v))?),
            "log" => s.log = at(var, log_filter(v))?,
            "log_format" => s.log_json = at(var, log_format(v))?,
            "access_token_ttl" => s.access_token_ttl = at(var, secs(v, 30, 86_400))?,
            "id_token_ttl" => s.id_token_ttl = at(var, secs(v, 30, 86_400))?,
            "refresh_token_ttl" => s.refresh_token_ttl = at(var, secs(v, 300, 31_536_000))?,
            "refresh_grace" => s.refresh_grace = at(var, secs(v, 0, 60))?,
            "cimd_allow_loopback" => s.cimd_allow_loopback = at(var, boolean(v))?,
            "cimd_ca_file" => s.cimd_ca_file = Some(at(var, readable_file(v))?),
            "code_ttl" => s.code_ttl = at(var, secs(v, 10, 600))?,
            "session_ttl" => s.session_ttl = at(var, secs(v, 300, 2_592_000))?,
            "db_max_connections" => {
                s.db_max_connections = at(var, bounded(v, 1, 1000, "connections"))?
            }
            "audit_sink" => s.audit_sink = Some(v.clone()),
            "trusted_proxies" => s.trusted_proxies = at(var, TrustedProxies::parse(v))?,
            "ip_rate_limit" => s.ip_rate_limit = at(var, bounded(v, 0, 10_000_000, "requests"))?,
            "login_ip_rate_limit" => {
                s.login_ip_rate_limit = at(var, bounded(v, 1, 100_000, "requests"))?
            }
            "dev_mode" => s.dev_mode = at(var, boolean(v))?,
            "instances" => s.instances = at(var, bounded(v, 1, 1000, "instances"))?,
            // A misspelt file key must not leave the default silently in force.
            _ => return Err(err(var, "unknown setting")),
        }
    }
    // A CA for a plain-text Redis would suggest a protection that is not there.
    let tls_redis = s.redis_url.as_deref().is_some_and(|u| {
        let scheme = u.split_once("://").map_or("", |(scheme, _)| scheme);
        matches!(
            scheme.to_ascii_lowercase().as_str(),
            "rediss" | "valkeys" | "rediss+cluster"
        )
    });
    if s.redis_ca_file.is_some() && !tls_redis {
        let reason = "is set but AUTH_REDIS_URL is not a TLS URL (expected rediss://, valkeys:// or rediss+cluster://)";
        return Err(err("AUTH_REDIS_CA_FILE", reason));
    }
    // RFC 9700 §2.6 / SECURITY.md R8: authorization responses (codes, tokens in the
    // login pages' cookies) must not cross the network in clear. A plain-http issuer is
    // accepted only where nothing but this machine can reach it (loopback, the default),
    // or when the operator says this is development.
    if s.public_url.scheme() == "http" && !is_loopback(&s.public_url) && !s.dev_mode {
        let var = given
            .iter()
            .rev()
            .find(|(k, _, v)| k == "public_url" && !v.is_empty())
            .map_or("AUTH_PUBLIC_URL", |(_, var, _)| var.as_str());
        let shown = echo_url(s.public_url.as_str());
        return bad(
            &shown,
            "is plain http on a host other than loopback",
            "https, or AUTH_DEV_MODE=true in development",
        )
        .map_err(|reason| err(var, reason));
    }
    // Half a TLS pair would silently serve plain HTTP where the operator asked for HTTPS.
    let (cert, key) = ("AUTH_TLS_CERT", "AUTH_TLS_KEY");
    match (&s.tls_cert, &s.tls_key) {
        (Some(_), None) => Err(err(key, format!("is not set but {cert} is ({BOTH})"))),
        (None, Some(_)) => Err(err(cert, format!("is not set but {key} is ({BOTH})"))),
        _ => Ok(s),
    }
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `AUTH_CODE_TTL` -> `code_ttl`.
fn key_of(var: &str) -> String {
    var.trim_start_matches("AUTH_").to_ascii_lowercase()
}

/// One line for a TOML syntax error: toml's position line and message, never its source
/// snippet, which could quote a secret from the file.
fn toml_reason(e: &toml::de::Error) -> String {
    let report = e.to_string();
    let position = report.lines().next().unwrap_or("TOML parse error");
    let message = e.message().trim();
    format!("{position}: {message} (expected key = \"value\" lines)")
}

/// `"{shown}" {what} (expected {expected})`: the shape of every reason that may echo.
fn bad<T>(shown: &str, what: &str, expected: &str) -> Result<T, String> {
    Err(format!("{shown:?} {what} (expected {expected})"))
}

fn public_url(s: &str) -> Result<Url, String> {
    const EXPECTED: &str = "an http(s) URL without credentials, query or fragment";
    let shown = echo_url(s);
    let parsed = Url::parse(s).map_err(|e| format!("is not a URL ({e})"));
    let mut url = parsed.or_else(|what| bad(&shown, &what, EXPECTED))?;
    if !matches!(url.scheme(), "http" | "https") {
        return bad(&shown, "is not http or https", EXPECTED);
    }
    let extras = [url.query(), url.fragment(), url.password()];
    if !url.username().is_empty() || extras.iter().any(Option::is_some) {
        return bad(&shown, "has credentials, a query or a fragment", EXPECTED);
    }
    // Clients compare issuers byte for byte (OIDC Discovery 4.3): allow one spelling only.
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    let expected = "host:port, e.g. 127.0.0.1:8080";
    s.parse()
        .or_else(|_| bad(s, "is not a socket address", expected))
}

fn database_url(s: &str) -> Result<String, String> {
    const EXPECTED: &str = "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB";
    let lower = s.to_ascii_lowercase();
    let postgres = lower.starts_with("postgres://") || lower.starts_with("postgresql://");
    if postgres && let Err(e) = Url::parse(s) {
        return bad(&echo_url(s), &format!("is not a valid URL ({e})"), EXPECTED);
    }
    if postgres || (lower.starts_with("sqlite://") && s.len() > "sqlite://".len()) {
        return Ok(s.to_owned());
    }
    bad(&echo_url(s), "is not a supported database URL", EXPECTED)
}

/// The forms `redis::IntoConnectionInfo` (redis 1.x) accepts, plus
/// `redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]` (and `rediss+cluster://`) for
/// Redis Cluster seed nodes, and
/// `redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER_NAME[/DB]` for Redis
/// behind Sentinel (parsed by `cache::parse_sentinel_url`, the parser the store uses).
fn redis_url(s: &str) -> Result<String, String> {
    const EXPECTED: &str = "redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, valkey(s)://…, \
                            redis+unix:///PATH, unix:///PATH, redis+cluster://HOST:PORT,HOST:PORT… \
                            or redis+sentinel://HOST:PORT,HOST:PORT…/MASTER_NAME[/DB]";
    if let Some(parsed) = crate::cache::parse_sentinel_url(s) {
        return match parsed {
            Ok(_) => Ok(s.to_owned()),
            Err(why) => bad(
                &echo_url(s),
                &format!("is not a valid Sentinel URL: {why}"),
                EXPECTED,
            ),
        };
    }
    let cluster = s
        .split_once("://")
        .filter(|(scheme, _)| {
            matches!(
                scheme.to_ascii_lowercase().as_str(),
                "redis+cluster" | "rediss+cluster"
            )
        })
        .map(|(_, rest)| {
            let hosts = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let hosts = hosts.trim_end_matches('/');
            !hosts.is_empty()
                && hosts.split(',').all(|h| {
                    h.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
                    })
                })
        });
    let usable = match cluster {
        Some(ok) => ok,
        None => Url::parse(s).is_ok_and(|url| match url.scheme() {
            "redis" | "rediss" | "valkey" | "valkeys" => {
                url.host_str().is_some_and(|h| !h.is_empty())
            }
            "unix" | "redis+unix" | "valkey+unix" => url.path().len() > 1,
            _ => false,
        }),
    };
    match usable {
        true => Ok(s.to_owned()),
        false => bad(&echo_url(s), "is not a supported Redis URL", EXPECTED),
    }
}

/// Same acceptance as `tokens::MasterKey::parse`, so a key that passes here also loads there.
fn master_key(s: &str) -> Result<SecretString, String> {
    let text = s.trim();
    let is_hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    // The decoded bytes are key material: SecretSlice zeroizes them on drop.
    let len = |bytes: Vec<u8>| SecretSlice::from(bytes).expose_secret().len();
    let unpadded = text.trim_end_matches('=');
    let is_b64 = |b64: &GeneralPurpose| b64.decode(unpadded).map(len) == Ok(32);
    if is_hex || is_b64(&STANDARD_NO_PAD) || is_b64(&URL_SAFE_NO_PAD) {
        return Ok(SecretString::from(s));
    }
    let expected = "32 random bytes as base64, standard or URL-safe, padding optional, \
                    or 64 hex characters, e.g. `openssl rand -base64 32`";
    Err(format!(
        "is not a valid master key (expected {expected}; not shown)"
    ))
}

fn readable_file(s: &str) -> Result<PathBuf, String> {
    // Opening, not just stat-ing, catches permission problems now rather than at bind time.
    match std::fs::File::open(s).and_then(|f| f.metadata()) {
        Ok(meta) if meta.is_file() => Ok(PathBuf::from(s)),
        Ok(_) => bad(s, "is not a regular file", "a readable PEM file"),
        Err(e) => bad(s, &format!("cannot be read ({e})"), "a readable PEM file"),
    }
}

fn admin_client_id(s: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-');
    if s.len() <= 128 && s.chars().all(allowed) {
        return Ok(s.to_owned());
    }
    bad(s, "is not a valid client id", "[A-Za-z0-9._~-]{1,128}")
}

fn admin_secret(s: &str) -> Result<SecretString, String> {
    if s.chars().count() >= 32 {
        return Ok(SecretString::from(s));
    }
    Err("is too short (expected at least 32 characters; value not shown)".to_owned())
}

fn log_filter(s: &str) -> Result<String, String> {
    const EXAMPLE: &str = "e.g. info,auth_server=debug";
    match tracing_subscriber::EnvFilter::try_new(s) {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => bad(s, &format!("is not a tracing filter ({e})"), EXAMPLE),
    }
}

/// `text` or `json`; `true` for JSON.
fn log_format(s: &str) -> Result<bool, String> {
    match s {
        "text" => Ok(false),
        "json" => Ok(true),
        _ => bad(s, "is not a log format", "text or json"),
    }
}

fn boolean(s: &str) -> Result<bool, String> {
    match s.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bad(s, "is not a boolean", "true or false"),
    }
}

fn secs(s: &str, min: u64, max: u64) -> Result<u64, String> {
    bounded(s, min, max, "seconds")
}

fn bounded<T>(s: &str, min: T, max: T, unit: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display,
{
    let expected = format!("a whole number of {unit} from {min} to {max}");
    match s.trim().parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        Ok(_) => bad(s, "is out of range", &expected),
        Err(_) => bad(s, "is not a number", &expected),
    }
}

/// A URL fit for logs and errors: everything before the last `@` (user and password, even
/// with unescaped `@` or `:`) becomes `***`, and the query (maybe `password=`) is cut.
/// Works on strings that do not parse as URLs too.
fn echo_url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        let hidden = s.contains(['@', '?']);
        return String::from(if hidden { "(not shown)" } else { s });
    };
    let (cred, rest) = rest.rsplit_once('@').map_or(("", rest), |r| ("***@", r.1));
    let (location, query) = rest.split_once('?').map_or((rest, ""), |(l, _)| (l, "?…"));
    format!("{scheme}://{cred}{location}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Hunter2Hunter2";

    /// `AUTH_VAR value => ok`, or `=> VAR: part of the reason`; `file TOML => …` loads TOML
    /// (`\n`: newline). `{S}` is SECRET, which no error and no `Debug` output may contain.
    const CASES: &str = r#"
        AUTH_PUBLIC_URL not a url => AUTH_PUBLIC_URL: "not a url" is not a URL
        AUTH_PUBLIC_URL ftp://x.example => AUTH_PUBLIC_URL: "ftp://x.example" is not http or https
        AUTH_PUBLIC_URL https://x.example/?a=1 => AUTH_PUBLIC_URL: has credentials, a query or a
        AUTH_PUBLIC_URL https://u:{S}@h => AUTH_PUBLIC_URL: "https://***@h" has credentials
        AUTH_PUBLIC_URL http://localhost:8080 => ok
        AUTH_PUBLIC_URL http://[::1]:8080 => ok
        AUTH_PUBLIC_URL http://as.example => AUTH_PUBLIC_URL: "http://as.example/" is plain http on a host other than loopback (expected https, or AUTH_DEV_MODE=true
        AUTH_PUBLIC_URL http://127.0.0.1.nip.io => AUTH_PUBLIC_URL: is plain http on a host other than loopback
        AUTH_DEV_MODE yes => AUTH_DEV_MODE: "yes" is not a boolean
        AUTH_INSTANCES 3 => ok
        AUTH_INSTANCES 0 => AUTH_INSTANCES: "0" is out of range (expected a whole number of instances from 1 to 1000)
        AUTH_INSTANCES two => AUTH_INSTANCES: "two" is not a number
        file public_url = "http://10.0.0.5:8080" => public_url: is plain http on a host other than loopback
        AUTH_LISTEN [::1]:0 => ok
        AUTH_LISTEN abc => AUTH_LISTEN: "abc" is not a socket address (expected host:port, e.g.
        AUTH_DATA_DIR /var/lib/auth => ok
        AUTH_DATABASE_URL postgres://u:{S}@db:5432/auth?password={S} => ok
        AUTH_DATABASE_URL PostgreSQL://h/db => ok
        AUTH_DATABASE_URL sqlite://./x.db?mode=rwc => ok
        AUTH_DATABASE_URL mysql://u:{S}@h/db => AUTH_DATABASE_URL: "mysql://***@h/db" is not a supported
        AUTH_DATABASE_URL sqlite:// => AUTH_DATABASE_URL: "sqlite://" is not a supported database URL
        AUTH_DATABASE_URL postgres://u:{S}@@h:99999/db => AUTH_DATABASE_URL: "postgres://***@h:99999/db"
        AUTH_DATABASE_URL postgres://h:99999/db?password={S} => AUTH_DATABASE_URL: invalid port number
        AUTH_DATABASE_URL u:{S}@h => AUTH_DATABASE_URL: "(not shown)" is not a supported database URL
        AUTH_REDIS_URL rediss://u:{S}@h:6380/2 => ok
        AUTH_REDIS_URL valkey://h => ok
        AUTH_REDIS_URL redis+unix:///run/redis.sock => ok
        AUTH_REDIS_URL redis+cluster://:{S}@a:7000,b:7001,c:7002 => ok
        AUTH_REDIS_URL rediss+cluster://a:7000/ => ok
        AUTH_REDIS_URL redis+cluster://a,b:7001 => AUTH_REDIS_URL: "redis+cluster://a,b:7001" is not a supported Redis URL
        AUTH_REDIS_URL redis+sentinel://:{S}@h => AUTH_REDIS_URL: "redis+sentinel://***@h" is not a valid Sentinel URL: expected Sentinels as HOST:PORT
        AUTH_REDIS_URL redis+sentinel://:{S}@h:26379 => AUTH_REDIS_URL: "redis+sentinel://***@h:26379" is not a valid Sentinel URL: the master name is missing
        AUTH_REDIS_URL redis+sentinel://:{S}@a:26379,b:26380/mymaster/1 => ok
        AUTH_REDIS_URL redis://:{S}@h:99999 => AUTH_REDIS_URL: is not a supported Redis URL
        AUTH_MASTER_KEY 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f => ok
        AUTH_MASTER_KEY AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= => ok
        AUTH_MASTER_KEY AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 => ok
        AUTH_MASTER_KEY -_8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0 => ok
        AUTH_MASTER_KEY {S} => AUTH_MASTER_KEY: is not a valid master key (expected 32 random bytes
        AUTH_MASTER_KEY AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ => AUTH_MASTER_KEY: is not a valid
        AUTH_MASTER_KEY 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e => AUTH_MASTER_KEY: is
        AUTH_ADMIN_CLIENT_ID svc.admin_01~x-y => ok
        AUTH_ADMIN_CLIENT_ID bad id => AUTH_ADMIN_CLIENT_ID: "bad id" is not a valid client id
        AUTH_ADMIN_CLIENT_ID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa => AUTH_ADMIN_CLIENT_ID: is not a valid client id (expected [A-Za-z0-9._~-]{1,128})
        AUTH_ADMIN_CLIENT_SECRET {S}{S}{S} => ok
        AUTH_ADMIN_CLIENT_SECRET {S} => AUTH_ADMIN_CLIENT_SECRET: is too short (expected at least 32
        AUTH_LOG info,auth_server=debug,sea_orm=warn => ok
        AUTH_LOG info,[[ => AUTH_LOG: "info,[[" is not a tracing filter
        AUTH_LOG_FORMAT json => ok
        AUTH_LOG_FORMAT JSON => AUTH_LOG_FORMAT: "JSON" is not a log format (expected text or json)
        AUTH_ACCESS_TOKEN_TTL 29 => AUTH_ACCESS_TOKEN_TTL: "29" is out of range (expected a whole number of seconds from 30 to 86400)
        AUTH_ID_TOKEN_TTL ten => AUTH_ID_TOKEN_TTL: "ten" is not a number
        AUTH_REFRESH_TOKEN_TTL 100 => AUTH_REFRESH_TOKEN_TTL: seconds from 300 to 31536000
        AUTH_REFRESH_GRACE 0 => ok
        AUTH_CIMD_ALLOW_LOOPBACK true => ok
        AUTH_CIMD_ALLOW_LOOPBACK yes => AUTH_CIMD_ALLOW_LOOPBACK: "yes" is not a boolean
        AUTH_REDIS_CA_FILE /nonexistent/ca.pem => AUTH_REDIS_CA_FILE: "/nonexistent/ca.pem" cannot be read
        AUTH_CIMD_CA_FILE /nonexistent/ca.pem => AUTH_CIMD_CA_FILE: "/nonexistent/ca.pem" cannot be read
        AUTH_REFRESH_GRACE 61 => AUTH_REFRESH_GRACE: seconds from 0 to 60
        AUTH_CODE_TTL 601 => AUTH_CODE_TTL: seconds from 10 to 600
        AUTH_SESSION_TTL -1 => AUTH_SESSION_TTL: "-1" is not a number
        AUTH_DB_MAX_CONNECTIONS 0 => AUTH_DB_MAX_CONNECTIONS: connections from 1 to 1000
        AUTH_TRUSTED_PROXIES 10.0.0.0/8, 192.168.1.7, ::1 => ok
        AUTH_TRUSTED_PROXIES 10.0.0.0/33 => AUTH_TRUSTED_PROXIES: "10.0.0.0/33" is not an IP address or CIDR range
        AUTH_IP_RATE_LIMIT 0 => ok
        AUTH_IP_RATE_LIMIT many => AUTH_IP_RATE_LIMIT: "many" is not a number
        AUTH_LOGIN_IP_RATE_LIMIT 0 => AUTH_LOGIN_IP_RATE_LIMIT: requests from 1 to 100000
        AUTH_TLS_CERT /nonexistent/cert.pem => AUTH_TLS_CERT: "/nonexistent/cert.pem" cannot be read
        AUTH_TLS_KEY / => AUTH_TLS_KEY: "/" is not a regular file
        file code_ttl = 90\nlisten = "[::]:80" => ok
        file pubilc_url = "http://x" => pubilc_url: unknown setting
        file AUTH_LISTEN = "127.0.0.1:1" => AUTH_LISTEN: unknown setting
        file listen = "abc" => listen: "abc" is not a socket address
        file code_ttl = true => code_ttl: is a TOML boolean (expected a string or integer)
        file log = "info"\nlisten = = "x" => config file: TOML parse error at line 2, column 10:
        file master_key = "{S} => config file: TOML parse error at line 1"#;

    fn load(toml: Option<&str>, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_sources(toml, &env.collect())
    }

    /// CASES as (name, value, expected), placeholders expanded.
    fn cases() -> Vec<(String, String, String)> {
        let text = CASES.replace("{S}", SECRET);
        let rows = text.lines().filter_map(|l| l.trim().split_once(" => "));
        let split = |(given, expected): (&str, &str)| {
            let (var, value) = given.split_once(' ').unwrap_or((given, ""));
            (var.into(), value.replace("\\n", "\n"), expected.into())
        };
        rows.map(split).collect()
    }

    /// A readable file, unique to this process.
    fn pem_file() -> String {
        let path = std::env::temp_dir().join(format!("auth-config-{}.pem", std::process::id()));
        std::fs::write(&path, "PEM").expect("write a temp file");
        path.to_str().expect("utf-8 temp path").to_owned()
    }

    fn assert_rejected(e: ConfigError, var: &str, reason: &str) {
        let (text, blamed) = (e.to_string(), e.var == var && e.reason.contains(reason));
        assert!(blamed, "expected {var}: {reason}; got {e}");
        assert!(!text.contains(SECRET) && !text.contains('\n'), "{e}");
    }

    #[test]
    fn defaults_then_toml_then_env() {
        let s = load(None, &[]).expect("defaults are valid");
        assert_eq!(format!("{s:?}"), format!("{:?}", Settings::default()));
        assert_eq!(s.issuer("acme"), "http://127.0.0.1:8080/t/acme");
        let db = s.effective_database_url();
        assert_eq!(db, "sqlite://./data/auth.db?mode=rwc");

        let toml = "listen = \"0.0.0.0:9000\"\ncode_ttl = 120\nlog = \"warn\"\ndata_dir = \"/srv\"";
        let env = [("AUTH_LISTEN", "127.0.0.1:7000"), ("AUTH_CODE_TTL", "30")];
        let more = [("AUTH_LOG", ""), ("AUTH_UNKNOWN", "ignored")];
        let s = load(Some(toml), &[env, more].concat()).expect("valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(s.code_ttl, 30);
        assert_eq!(s.log, "warn", "an empty variable leaves the file's value");
        assert_eq!(s.effective_database_url(), "sqlite:///srv/auth.db?mode=rwc");

        let s = load(None, &[("AUTH_PUBLIC_URL", "https://a.example/base/")]).expect("ok");
        assert_eq!(s.public_url.as_str(), "https://a.example/base");
        assert_eq!(s.issuer("x"), "https://a.example/base/t/x");
    }

    #[test]
    fn each_case_is_accepted_or_blamed_on_its_variable_without_echoing_secrets() {
        for (var, value, expected) in cases() {
            let loaded = match var.as_str() {
                "file" => load(Some(&value), &[]),
                _ => load(None, &[(&var, &value)]),
            };
            let Some((blamed, reason)) = expected.split_once(": ") else {
                let s = loaded.unwrap_or_else(|e| panic!("{var} {value}: {e}"));
                let debug = format!("{s:?}");
                let key = var.ends_with("_KEY") && debug.contains(&value);
                assert!(!debug.contains(SECRET) && !key, "{debug}");
                continue;
            };
            assert_rejected(loaded.expect_err(&value), blamed, reason);
        }
    }

    #[test]
    fn the_log_summaries_name_hosts_and_never_credentials() {
        let pairs = [
            (
                "AUTH_DATABASE_URL",
                "postgres://u:Hunter2Hunter2@db.internal:6432/auth?password=x",
            ),
            ("AUTH_REDIS_URL", "rediss://:Hunter2Hunter2@cache:6380/2"),
        ];
        let s = load(None, &pairs).expect("valid");
        assert_eq!(s.database_summary(), "postgres:db.internal:6432/auth");
        assert_eq!(s.redis_summary(), "rediss:cache:6380/2");
        let cluster = [(
            "AUTH_REDIS_URL",
            "redis+cluster://u:Hunter2Hunter2@a:7000,b:7001",
        )];
        let s = load(None, &cluster).expect("valid");
        assert_eq!(s.redis_summary(), "redis+cluster:a:7000,b:7001");
        assert_eq!(s.database_summary(), "sqlite:./data/auth.db");
        assert_eq!(load(None, &[]).expect("ok").redis_summary(), "in-process");
    }

    #[test]
    fn a_redis_ca_file_needs_a_tls_redis_url() {
        let file = pem_file();
        let e = load(None, &[("AUTH_REDIS_CA_FILE", &file)]).expect_err("no Redis URL");
        assert_rejected(e, "AUTH_REDIS_CA_FILE", "is not a TLS URL");
        let plain = [
            ("AUTH_REDIS_CA_FILE", &*file),
            ("AUTH_REDIS_URL", "redis://h"),
        ];
        assert_rejected(
            load(None, &plain).expect_err("plain"),
            "AUTH_REDIS_CA_FILE",
            "TLS",
        );
        for url in ["rediss://h:6380", "REDISS://h", "rediss+cluster://a:1,b:2"] {
            let pairs = [("AUTH_REDIS_CA_FILE", &*file), ("AUTH_REDIS_URL", url)];
            let s = load(None, &pairs).expect(url);
            assert_eq!(s.redis_ca_file, Some(PathBuf::from(&file)));
        }
    }

    #[test]
    fn tls_needs_both_files_or_neither_and_a_missing_config_file_is_named() {
        let file = pem_file();
        let e = load(None, &[("AUTH_TLS_CERT", &file)]).expect_err("half a pair");
        assert_rejected(e, "AUTH_TLS_KEY", "is not set but AUTH_TLS_CERT is");
        let e = load(Some(&format!("tls_key = {file:?}")), &[]).expect_err("half a pair");
        assert_rejected(e, "AUTH_TLS_CERT", "is not set but AUTH_TLS_KEY is");
        let s = load(None, &[("AUTH_TLS_CERT", &file), ("AUTH_TLS_KEY", &file)]).expect("ok");
        assert_eq!(s.tls_key, Some(PathBuf::from(file)));
        let e = Settings::load(Some(Path::new("/nonexistent/auth.toml"))).expect_err("no file");
        assert_eq!(e.var, "/nonexistent/auth.toml");
    }

    #[test]
    fn every_variable_in_the_help_table_parses_and_its_default_is_true() {
        let (file, default, cases) = (pem_file(), format!("{:?}", Settings::default()), cases());
        let ok = |var: &str| cases.iter().find(|c| c.0 == var && c.2 == "ok");
        for line in Settings::help_table().lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (var, default_text) = (cols[0], cols[1]);
            let pairs = match ok(var) {
                _ if var.starts_with("AUTH_TLS_") => {
                    vec![("AUTH_TLS_CERT", &*file), ("AUTH_TLS_KEY", &file)]
                }
                _ if var == "AUTH_CIMD_CA_FILE" => vec![(var, &*file)],
                _ if var == "AUTH_REDIS_CA_FILE" => {
                    vec![(var, &*file), ("AUTH_REDIS_URL", "rediss://h:6380")]
                }
                Some(case) if default_text == "-" => vec![(var, &*case.1)],
                _ => vec![(var, default_text)],
            };
            let debug = format!("{:?}", load(None, &pairs).expect(line));
            assert_eq!(debug == default, default_text != "-", "{line}");
        }
        let listed = variables().count();
        assert_eq!(listed, 28, "a variable is missing from the help table");
    }
}
