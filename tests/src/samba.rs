//! A real Samba AD DC for the Active Directory tests (recipe: shared/recipes/samba-ad.md).
//! The domain `CORP.TEST` is provisioned and seeded once per test process into a
//! template directory (about 15 s), then each test copies it and starts its own DC in
//! under a second. Samba's LDAP ports are fixed (389/636), so the DC listens on
//! 127.0.0.2 and tests using it run one at a time (a process-wide lock).
//!
//! Seeded: `svc` (service account), alice ∈ Inner ⊂ Outer, bob disabled, dave must
//! change his password, erin expired, frank (lockout after 3 bad passwords). The DC
//! serves LDAPS with a certificate for IP 127.0.0.2 signed by a test CA.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Address the DC listens on.
pub const IP: &str = "127.0.0.2";
/// Base DN.
pub const BASE: &str = "DC=corp,DC=test";
/// Service account DN and password.
pub const SVC_DN: &str = "CN=svc,CN=Users,DC=corp,DC=test";
/// Service account password.
pub const SVC_PW: &str = "Svc-Pass1!";

struct Template {
    dir: PathBuf,
    ca_pem: String,
}

static TEMPLATE: tokio::sync::OnceCell<Option<Template>> = tokio::sync::OnceCell::const_new();
static ONE_DC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running DC; stopped and removed on drop.
pub struct SambaDc {
    // Dropped in this order: the DC is killed before its files go and the next test may
    // start one.
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    _guard: tokio::sync::MutexGuard<'static, ()>,
    /// `ldaps://127.0.0.2`.
    pub url: String,
    /// PEM of the CA that signed the DC's certificate.
    pub ca_pem: String,
    conf: PathBuf,
    sam: PathBuf,
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn provision() -> Result<Template, String> {
    // Samba binds only addresses that are really assigned.
    let has_ip = std::process::Command::new("ip")
        .args(["addr", "show", "dev", "lo"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {IP}/")))
        .unwrap_or(false);
    if !has_ip {
        run("ip", &["addr", "add", &format!("{IP}/8"), "dev", "lo"])?;
    }
    // One template per machine, reused by later runs (provisioning is the slow part).
    let dir = std::env::temp_dir().join("auth-server-samba-template-v1");
    let ready = dir.join("ready");
    if ready.exists() {
        let ca_pem = std::fs::read_to_string(dir.join("dc-ca.pem")).map_err(|e| e.to_string())?;
        return Ok(Template { dir, ca_pem });
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let d = dir.to_str().unwrap_or_default().to_owned();
    run(
        "samba-tool",
        &[
            "domain",
            "provision",
            "-s",
            "/dev/null",
            &format!("--targetdir={d}"),
            "--realm=CORP.TEST",
            "--domain=CORP",
            "--host-name=dc1",
            "--adminpass=Passw0rd!x",
            "--server-role=dc",
            "--dns-backend=NONE",
            "--use-rfc2307",
            &format!("--option=interfaces = {IP}"),
            "--option=bind interfaces only = yes",
            "--option=server services = ldap, cldap, kdc",
            &format!("--option=pid directory = {d}"),
            &format!("--option=ncalrpc dir = {d}/ncalrpc"),
            &format!("--option=log file = {d}/log.%m"),
        ],
    )?;
    // Our own certificate for the IP (Samba's generated one has no SAN); key 0600.
    let (ca_pem, files) = crate::slapd::test_ca_for(&dir, "dc", IP);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    let conf_path = dir.join("etc/smb.conf");
    let conf = std::fs::read_to_string(&conf_path).map_err(|e| e.to_string())?;
    let conf = conf.replacen(
        "[global]",
        &format!(
            "[global]\n\ttls enabled = yes\n\ttls keyfile = {}\n\ttls certfile = {}\n\ttls cafile = {d}/dc-ca.pem\n",
            files.key.display(),
            files.cert.display()
        ),
        1,
    );
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let conf = format!("{d}/etc/smb.conf");
    let sam = format!("{d}/private/sam.ldb");
    let tool = |args: &[&str]| -> Result<(), String> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-s", &conf, "-H", &sam]);
        run("samba-tool", &all)
    };
    tool(&[
        "domain",
        "passwordsettings",
        "set",
        "--complexity=off",
        "--min-pwd-length=1",
        "--history-length=0",
        "--min-pwd-age=0",
        "--account-lockout-threshold=3",
        "--account-lockout-duration=1",
        "--reset-account-lockout-after=1",
    ])?;
    for (user, pw) in [
        ("svc", SVC_PW),
        ("alice", "Alice-Pass1!"),
        ("bob", "Bob-Pass1!"),
        ("erin", "Erin-Pass1!"),
        ("frank", "Frank-Pass1!"),
    ] {
        tool(&[
            "user",
            "create",
            user,
            pw,
            "--use-username-as-cn",
            "--mail-address",
            &format!("{user}@corp.test"),
        ])?;
    }
    tool(&[
        "user",
        "create",
        "dave",
        "Dave-Pass1!",
        "--use-username-as-cn",
        "--must-change-at-next-login",
    ])?;
    tool(&["group", "add", "Inner"])?;
    tool(&["group", "add", "Outer"])?;
    tool(&["group", "addmembers", "Outer", "Inner"])?;
    tool(&["group", "addmembers", "Inner", "alice"])?;
    tool(&["user", "disable", "bob"])?;
    tool(&["user", "setexpiry", "erin", "--days=0"])?;
    std::fs::write(&ready, "").map_err(|e| e.to_string())?;
    Ok(Template { dir, ca_pem })
}

impl SambaDc {
    /// Run `samba-tool` against this DC's database (the running DC sees the change).
    pub fn tool(&self, args: &[&str]) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "-s",
            self.conf.to_str().unwrap(),
            "-H",
            self.sam.to_str().unwrap(),
        ]);
        run("samba-tool", &all).unwrap();
    }

    /// Start a DC from the template, or `None` (skip; a failure under
    /// `AUTH_TEST_REQUIRE_SERVICES=1`) when Samba is not installed.
    pub async fn start() -> Option<SambaDc> {
        if !Path::new("/usr/sbin/samba").exists() || !Path::new("/usr/bin/samba-tool").exists() {
            crate::skip("samba (Debian package samba)");
            return None;
        }
        let guard = ONE_DC.lock().await;
        let template = TEMPLATE
            .get_or_init(|| async {
                match tokio::task::spawn_blocking(provision).await {
                    Ok(Ok(t)) => Some(t),
                    Ok(Err(e)) => panic!("samba provisioning failed: {e}"),
                    Err(e) => panic!("samba provisioning panicked: {e}"),
                }
            })
            .await
            .as_ref()?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("dc");
        let status = std::process::Command::new("cp")
            .args(["-a", template.dir.to_str().unwrap(), d.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "cp -a of the samba template failed");
        let conf = d.join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf)
            .unwrap()
            .replace(template.dir.to_str().unwrap(), d.to_str().unwrap());
        std::fs::write(&conf, text).unwrap();
        // The previous test's DC may still be dying: wait until the port is free.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect((IP, 636)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::File::create(d.join("samba.out")).unwrap();
        let child = tokio::process::Command::new("/usr/sbin/samba")
            .args(["-i", "-M", "single", "--debug-stdout", "-s"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect((IP, 636)).await.is_ok() {
                return Some(SambaDc {
                    _dir: dir,
                    _child: child,
                    _guard: guard,
                    url: format!("ldaps://{IP}"),
                    ca_pem: template.ca_pem.clone(),
                    sam: d.join("private/sam.ldb"),
                    conf,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "samba did not start: {}",
            std::fs::read_to_string(d.join("samba.out")).unwrap_or_default()
        );
    }
}
