//! Throwaway PostgreSQL clusters and Redis servers that a test owns and can stop and
//! start again mid-test (failure-behaviour tests). Each lives in its own temp dir on a
//! free loopback port; the shared services on the default ports are never touched.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A free loopback port (the OS picks it; a tiny race with other binders is accepted).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

async fn wait_for_port(port: u16, up: bool) -> bool {
    for _ in 0..200 {
        let open = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        if open == up {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A PostgreSQL cluster made by `initdb` in a temp dir, run with `pg_ctl`.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_root: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Create and start a cluster, or `None` when the server binaries are missing.
    pub async fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let as_root = is_root();
        if as_root {
            // initdb refuses to run as root: the cluster belongs to `postgres`.
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:", &dir.path().display().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return None;
            }
        }
        let pg = Postgres {
            bin,
            data: dir.path().join("data"),
            port: free_port(),
            as_root,
            _dir: dir,
        };
        let data = pg.data.display().to_string();
        let ok = pg
            .command("initdb")
            .args(["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !ok || !pg.start_again().await {
            return None;
        }
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut c = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.kill_on_drop(true);
        c
    }

    /// Admin URL (database `postgres`, trust auth).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn pg_ctl(&self, args: &[&str]) -> bool {
        let data = self.data.display().to_string();
        self.command("pg_ctl")
            .args(["-D", &data, "-w", "-t", "30"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    /// Start (again) on the same port and data; `true` once it accepts connections.
    pub async fn start_again(&self) -> bool {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=40",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").display().to_string();
        self.pg_ctl(&["-l", &log, "-o", &opts, "start"]).await
            && wait_for_port(self.port, true).await
    }

    /// Fast shutdown (sessions are terminated, as in a failover or a restart).
    pub async fn stop(&self) -> bool {
        self.pg_ctl(&["-m", "fast", "stop"]).await && wait_for_port(self.port, false).await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let path = self.bin.join("pg_ctl");
        let mut c = if self.as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        };
        let _ = c
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `redis-server` child on a free port, without persistence: a restart loses every
/// key, as a Redis that failed over without replication would.
pub struct Redis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// (certificate, key) PEM files when the server speaks TLS only.
    tls: Option<(PathBuf, PathBuf)>,
}

impl Redis {
    /// Start a server, or `None` when `redis-server` is missing.
    pub async fn start() -> Option<Redis> {
        let mut r = Redis {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().ok()?,
            tls: None,
        };
        r.start_again().await.then_some(r)
    }

    /// Start a server that speaks TLS only (no plain-text port), presenting `cert` with
    /// `key`; `None` when `redis-server` is missing or was built without TLS support.
    pub async fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Option<Redis> {
        let mut r = Redis {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().ok()?,
            tls: Some((cert.to_owned(), key.to_owned())),
        };
        if r.start_again().await {
            return Some(r);
        }
        let log = std::fs::read_to_string(r.dir.path().join("redis.log")).unwrap_or_default();
        eprintln!("redis-server --tls-port did not start: {log}");
        None
    }

    /// `redis://127.0.0.1:{port}`, or `rediss://…` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same port; `true` once it accepts connections.
    pub async fn start_again(&mut self) -> bool {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        match &self.tls {
            None => cmd.args(["--port", &port]),
            Some((cert, key)) => cmd
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key),
        };
        // Startup errors (an unknown --tls-port on a build without TLS) land in the log.
        let log = std::fs::File::create(self.dir.path().join("redis.log"));
        let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
            Err(_) => (Stdio::null(), Stdio::null()),
        };
        let child = cmd
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(c) => self.child = Some(c),
            Err(_) => return false,
        }
        wait_for_port(self.port, true).await
    }

    /// Kill the server (abrupt: connections reset).
    pub async fn stop(&mut self) -> bool {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
        wait_for_port(self.port, false).await
    }
}

/// A three-master Redis Cluster (`--cluster-enabled yes` on three ports, joined with
/// `redis-cli --cluster create`), without replicas or persistence.
pub struct RedisCluster {
    ports: Vec<u16>,
    _children: Vec<Child>,
    _dir: tempfile::TempDir,
}

/// A free port whose cluster bus port (port + 10000) is free as well.
fn free_cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p > 0 && p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

impl RedisCluster {
    /// Start and join three nodes, or `None` when redis-server/redis-cli are missing.
    pub async fn start() -> Option<RedisCluster> {
        let dir = tempfile::tempdir().ok()?;
        let mut ports = Vec::new();
        let mut children = Vec::new();
        for _ in 0..3 {
            let port = free_cluster_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .ok()?;
            children.push(child);
            if !wait_for_port(port, true).await {
                return None;
            }
            ports.push(port);
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !created {
            return None;
        }
        // Wait until every node agrees that all slots are served.
        for _ in 0..100 {
            let mut ok = true;
            for p in &ports {
                let out = Command::new("redis-cli")
                    .args(["-p", &p.to_string(), "cluster", "info"])
                    .output()
                    .await
                    .ok()?;
                ok &= String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok");
            }
            if ok {
                return Some(RedisCluster {
                    ports,
                    _children: children,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }
}

/// A Redis master and one replica, watched by one Sentinel (quorum 1) under the name
/// `auth`, each on a free port, without persistence. `failover` promotes the replica.
pub struct RedisSentinel {
    master: u16,
    replica: u16,
    sentinel: u16,
    _children: Vec<Child>,
    _dir: tempfile::TempDir,
}

/// `redis-cli -p PORT ARGS…`: its stdout, or `None` when it failed.
async fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl RedisSentinel {
    /// The monitored master's name.
    pub const NAME: &'static str = "auth";

    /// Start master, replica and Sentinel, and wait until the Sentinel knows the replica
    /// (it can only fail over to a replica it has seen); `None` when redis-server or
    /// redis-cli is missing.
    pub async fn start() -> Option<RedisSentinel> {
        let dir = tempfile::tempdir().ok()?;
        let (master, replica, sentinel) = (free_port(), free_port(), free_port());
        let mut children = Vec::new();
        for (port, extra) in [
            (master, vec![]),
            (
                replica,
                vec!["--replicaof".to_owned(), format!("127.0.0.1 {master}")],
            ),
        ] {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(&extra)
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .ok()?;
            children.push(child);
            if !wait_for_port(port, true).await {
                return None;
            }
        }
        // Sentinel rewrites its configuration file, so it gets one of its own.
        let conf = dir.path().join("sentinel.conf");
        let text = format!(
            "port {sentinel}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor {name} 127.0.0.1 {master} 1\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 10000\n",
            dir.path().display(),
            name = Self::NAME,
        );
        std::fs::write(&conf, text).ok()?;
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        children.push(child);
        if !wait_for_port(sentinel, true).await {
            return None;
        }
        let s = RedisSentinel {
            master,
            replica,
            sentinel,
            _children: children,
            _dir: dir,
        };
        // The Sentinel discovers replicas through the master's INFO (every 10 s at first).
        for _ in 0..300 {
            let replicas = redis_cli(sentinel, &["sentinel", "replicas", Self::NAME]).await?;
            if replicas.contains(&replica.to_string()) {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// `redis+sentinel://127.0.0.1:SENTINEL/auth`.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{}",
            self.sentinel,
            Self::NAME
        )
    }

    /// The port the Sentinel names as the master now.
    pub async fn master_port(&self) -> Option<u16> {
        let out = redis_cli(
            self.sentinel,
            &["sentinel", "get-master-addr-by-name", Self::NAME],
        )
        .await?;
        out.lines().nth(1)?.trim().parse().ok()
    }

    /// `SENTINEL FAILOVER`, then wait until the replica is the master the Sentinel names
    /// and the old master has been demoted to a replica (until then it still takes
    /// writes); `false` when that did not happen in time.
    pub async fn failover(&self) -> bool {
        if redis_cli(self.sentinel, &["sentinel", "failover", Self::NAME])
            .await
            .is_none()
        {
            return false;
        }
        for _ in 0..300 {
            let promoted = self.master_port().await == Some(self.replica);
            let role = redis_cli(self.replica, &["role"]).await.unwrap_or_default();
            let old = redis_cli(self.master, &["role"]).await.unwrap_or_default();
            if promoted && role.starts_with("master") && old.starts_with("slave") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The original master's port (a replica after [`RedisSentinel::failover`]).
    pub fn first_master(&self) -> u16 {
        self.master
    }
}
