//! Redis behind Sentinel (`redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER[/DB]`).
//!
//! The redis crate's `SentinelClient` asks the Sentinels for the master's address and
//! connects to it, but hands back a plain multiplexed connection that keeps talking to
//! that address forever; its `ConnectionManager` reconnects only to the address it was
//! built with. After a failover that is the old master: gone, or demoted to a replica
//! that answers every write with `READONLY`. [`SentinelConn`] is the missing piece: it
//! keeps one connection, drops it when the connection breaks or the server says it is
//! read-only, and asks the Sentinels again for the next command.
//!
//! A command that failed on a broken connection (Sentinel's failover kills the old
//! master's clients) or with `READONLY` is sent once more, to the master the Sentinels
//! name now. That is safe for every command the ephemeral store sends, in the fail-closed
//! direction: a repeated `GETDEL` or `SET NX` can only refuse (the first may have taken
//! the code or the `jti`), a repeated `INCR` only counts higher, and `SET`, `GET` and `DEL`
//! are idempotent. A timeout is not repeated: the master may only be slow.
//! Credentials in the URL are the master's (and its replicas'); the Sentinels themselves
//! are reached without authentication, and without TLS.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, RedisError, RedisResult};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A parsed `redis+sentinel://` URL. `Debug` shows no credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelUrl {
    /// `host:port` of every Sentinel.
    pub sentinels: Vec<String>,
    /// The monitored master's name (`sentinel monitor NAME …`).
    pub master: String,
    /// Database number on the master.
    pub db: i64,
    /// `USER:PASSWORD@` as written (still percent-encoded), or empty.
    auth: String,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelUrl")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// Parse a `redis+sentinel://` URL: `None` for other schemes, `Err(reason)` for a
/// sentinel URL that is malformed (the reason never quotes credentials).
pub fn parse_url(url: &str) -> Option<Result<SentinelUrl, String>> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("redis+sentinel") {
        return None;
    }
    Some(parse_rest(rest))
}

fn parse_rest(rest: &str) -> Result<SentinelUrl, String> {
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (format!("{auth}@"), rest),
        None => (String::new(), rest),
    };
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let sentinels: Vec<String> = hosts.split(',').map(str::to_owned).collect();
    let valid_host = |h: &String| {
        h.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        })
    };
    if hosts.is_empty() || !sentinels.iter().all(valid_host) {
        return Err("expected Sentinels as HOST:PORT[,HOST:PORT…]".into());
    }
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let master = parts
        .next()
        .ok_or("the master name is missing (…/MASTER_NAME[/DB])")?;
    let db = match parts.next() {
        None => 0,
        Some(db) => db
            .parse::<i64>()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or("the database must be a number")?,
    };
    if parts.next().is_some() {
        return Err("expected …/MASTER_NAME[/DB] after the Sentinels".into());
    }
    Ok(SentinelUrl {
        sentinels,
        master: master.to_owned(),
        db,
        auth,
    })
}

/// The connection to the current master, re-resolved through the Sentinels when it breaks.
#[derive(Clone)]
pub struct SentinelConn(Arc<Inner>);

struct Inner {
    /// Locked while resolving, so that one failover makes one lookup, not one per request.
    client: tokio::sync::Mutex<SentinelClient>,
    /// The connection in use and its generation (bumped at every reconnection).
    current: RwLock<Option<(u64, MultiplexedConnection)>>,
    config: AsyncConnectionConfig,
    db: i64,
    timeout: Duration,
}

/// Whether the connection that produced `e` must be replaced: broken, timed out, or no
/// longer the master.
fn needs_new_master(e: &RedisError) -> bool {
    e.is_unrecoverable_error()
        || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || is_read_only(e)
}

fn is_read_only(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
}

impl SentinelConn {
    /// Resolve the master through the Sentinels and connect to it. Connect and response
    /// timeouts apply to the master connection; the lookup as a whole is bounded by
    /// `timeout`.
    pub async fn connect(
        url: &SentinelUrl,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> RedisResult<SentinelConn> {
        let first = url.sentinels.first().map_or("", String::as_str);
        // The redis crate decodes credentials and the db from a URL; borrow that for the
        // master's settings rather than percent-decoding here.
        let master = format!("redis://{}{first}/{}", url.auth, url.db)
            .into_connection_info()?
            .redis_settings()
            .clone();
        let nodes: Vec<String> = url
            .sentinels
            .iter()
            .map(|h| format!("redis://{h}"))
            .collect();
        let client = SentinelClient::build(
            nodes,
            url.master.clone(),
            Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(master)),
            SentinelServerType::Master,
        )?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout));
        let conn = SentinelConn(Arc::new(Inner {
            client: tokio::sync::Mutex::new(client),
            current: RwLock::new(None),
            config,
            db: url.db,
            timeout: connect_timeout + response_timeout,
        }));
        conn.connection(None).await?;
        Ok(conn)
    }

    /// The connection in use, or a new one when there is none or `broken` (a generation
    /// that failed) is still the one in use.
    async fn connection(&self, broken: Option<u64>) -> RedisResult<(u64, MultiplexedConnection)> {
        let usable = |current: &Option<(u64, MultiplexedConnection)>| {
            current
                .as_ref()
                .filter(|(g, _)| Some(*g) != broken)
                .cloned()
        };
        if let Some(c) = self.0.current.read().ok().and_then(|c| usable(&c)) {
            return Ok(c);
        }
        let mut client = self.0.client.lock().await;
        // Another task may have reconnected while this one waited for the lock.
        let last = match self.0.current.read() {
            Ok(c) => {
                if let Some(c) = usable(&c) {
                    return Ok(c);
                }
                c.as_ref().map_or(0, |(g, _)| *g)
            }
            Err(_) => 0,
        };
        let lookup = client.get_async_connection_with_config(&self.0.config);
        let conn = match tokio::time::timeout(self.0.timeout, lookup).await {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(RedisError::from((
                    redis::ErrorKind::Io,
                    "timed out asking the Sentinels for the master",
                )));
            }
        };
        tracing::info!("connected to the Redis master named by Sentinel");
        let fresh = (last + 1, conn);
        if let Ok(mut current) = self.0.current.write() {
            *current = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// Send `request` to the master; on a broken connection or `READONLY` (a demoted
    /// master) forget the connection and send it once more to the master named now.
    async fn run(&self, request: Request<'_>) -> RedisResult<Reply> {
        let mut broken = None;
        for attempt in 0..2 {
            let (generation, mut conn) = self.connection(broken).await?;
            let result = match request {
                Request::One(cmd) => conn.req_packed_command(cmd).await.map(Reply::One),
                Request::Many(p, offset, count) => conn
                    .req_packed_commands(p, offset, count)
                    .await
                    .map(Reply::Many),
            };
            match result {
                Err(e) if needs_new_master(&e) => {
                    tracing::warn!(error = %e, "Redis master connection failed: asking the Sentinels again at the next command");
                    broken = Some(generation);
                    if let Ok(mut current) = self.0.current.write()
                        && current.as_ref().is_some_and(|(g, _)| *g == generation)
                    {
                        *current = None;
                    }
                    if attempt == 0 && !e.is_timeout() {
                        continue;
                    }
                    return Err(e);
                }
                other => return other,
            }
        }
        Err(RedisError::from((
            redis::ErrorKind::Io,
            "the Redis master failed again after a new Sentinel lookup",
        )))
    }
}

/// One command or a pipeline.
#[derive(Clone, Copy)]
enum Request<'a> {
    One(&'a redis::Cmd),
    Many(&'a redis::Pipeline, usize, usize),
}

enum Reply {
    One(redis::Value),
    Many(Vec<redis::Value>),
}

fn unexpected() -> RedisError {
    RedisError::from((redis::ErrorKind::Client, "mismatched reply kind"))
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            match self.run(Request::One(cmd)).await? {
                Reply::One(v) => Ok(v),
                Reply::Many(_) => Err(unexpected()),
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            match self.run(Request::Many(pipeline, offset, count)).await? {
                Reply::Many(v) => Ok(v),
                Reply::One(_) => Err(unexpected()),
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_the_sentinels_the_master_and_the_db() {
        let u = parse_url("redis+sentinel://:pw@a:26379,b:26380/mymaster/2")
            .unwrap()
            .unwrap();
        assert_eq!(u.sentinels, vec!["a:26379", "b:26380"]);
        assert_eq!(
            (u.master.as_str(), u.db, u.auth.as_str()),
            ("mymaster", 2, ":pw@")
        );
        assert!(!format!("{u:?}").contains("pw"));
        let u = parse_url("REDIS+SENTINEL://h:1/m").unwrap().unwrap();
        assert_eq!((u.master.as_str(), u.db), ("m", 0));
        assert!(parse_url("redis://h:6379").is_none());
        for bad in [
            "redis+sentinel://h:26379",
            "redis+sentinel://h/m",
            "redis+sentinel://h:0/m",
            "redis+sentinel:///m",
            "redis+sentinel://h:1/m/x",
            "redis+sentinel://h:1/m/1/2",
        ] {
            assert!(parse_url(bad).unwrap().is_err(), "{bad}");
        }
    }
}
