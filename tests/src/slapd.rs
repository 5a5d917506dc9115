//! A throwaway OpenLDAP `slapd` per test: its own config, database and seed LDIF in a
//! temp dir, listening on free loopback ports, logging every operation (loglevel
//! `stats`) to a file the test can read (for example to prove no bind was sent).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Base DN of the seeded directory.
pub const BASE: &str = "dc=corp,dc=example";
/// Service account.
pub const SVC_DN: &str = "cn=svc,dc=corp,dc=example";
/// Its password.
pub const SVC_PW: &str = "svc-secret";
const ROOT_DN: &str = "cn=admin,dc=corp,dc=example";
const ROOT_PW: &str = "adminpw";

/// Users, nested groups (staff ⊂ engineering ⊂ everyone, and a cycle a ↔ b under
/// staff), and an entry whose DN and uid hold filter metacharacters.
pub const SEED: &str = "\
dn: dc=corp,dc=example
objectClass: top
objectClass: dcObject
objectClass: organization
o: Corp
dc: corp

dn: cn=svc,dc=corp,dc=example
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: svc
userPassword: svc-secret

dn: ou=people,dc=corp,dc=example
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=corp,dc=example
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=corp,dc=example
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
mail: alice@corp.example
departmentNumber: sales
userPassword: alice-pw

dn: uid=bob,ou=people,dc=corp,dc=example
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@corp.example
userPassword: bob-pw

dn: cn=O'Brien\\, Sean (Ops),ou=people,dc=corp,dc=example
objectClass: inetOrgPerson
uid: o'brien(ops)*
cn: O'Brien, Sean (Ops)
sn: O'Brien
mail: sean@corp.example
userPassword: sean-pw

dn: cn=staff,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: staff
member: uid=alice,ou=people,dc=corp,dc=example

dn: cn=engineering,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: engineering
member: cn=staff,ou=groups,dc=corp,dc=example

dn: cn=everyone,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: everyone
member: cn=engineering,ou=groups,dc=corp,dc=example

dn: cn=cycle-a,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: cycle-a
member: cn=staff,ou=groups,dc=corp,dc=example
member: cn=cycle-b,ou=groups,dc=corp,dc=example

dn: cn=cycle-b,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: cycle-b
member: cn=cycle-a,ou=groups,dc=corp,dc=example

dn: cn=admins,ou=groups,dc=corp,dc=example
objectClass: groupOfNames
cn: admins
member: uid=bob,ou=people,dc=corp,dc=example
";

/// TLS material for slapd: server certificate and key (PEM files).
pub struct TlsFiles {
    /// Server certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// A running slapd.
pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
    /// `ldap://127.0.0.1:{port}`.
    pub url: String,
    /// `ldaps://127.0.0.1:{port}` when started with TLS.
    pub ldaps_url: Option<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl Slapd {
    /// Start a seeded slapd, or `None` (a skip, or a failure under
    /// `AUTH_TEST_REQUIRE_SERVICES=1`) when slapd is not installed.
    pub async fn start(tls: Option<&TlsFiles>) -> Option<Slapd> {
        let slapd = ["/usr/sbin/slapd", "/usr/local/sbin/slapd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let (Some(slapd), true) = (slapd, std::path::Path::new("/usr/sbin/slapadd").exists())
        else {
            crate::skip("slapd (Debian packages slapd and ldap-utils)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let mut conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {pid}\n",
            pid = d.join("slapd.pid").display()
        );
        if let Some(t) = tls {
            conf.push_str(&format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                t.cert.display(),
                t.key.display()
            ));
        }
        conf.push_str(&format!(
            "database mdb\nsuffix \"{BASE}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\n\
             directory {db}\nmaxsize 10485760\n",
            db = d.join("db").display()
        ));
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        std::fs::write(d.join("seed.ldif"), SEED).unwrap();
        let out = std::process::Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("seed.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_url = tls.map(|_| format!("ldaps://127.0.0.1:{}", free_port()));
        let listen = match &ldaps_url {
            Some(s) => format!("{url}/ {s}/"),
            None => format!("{url}/"),
        };
        let mut s = Slapd {
            dir,
            child: None,
            url,
            ldaps_url,
        };
        s.child = Some(s.spawn(slapd, &listen).await);
        Some(s)
    }

    async fn spawn(&self, slapd: &str, listen: &str) -> tokio::process::Child {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("slapd.log"))
            .unwrap();
        // -d 256: stats loglevel in the foreground, one line per operation.
        let child = tokio::process::Command::new(slapd)
            .arg("-d")
            .arg("256")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(listen)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let addr = self.url.trim_start_matches("ldap://").to_owned();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("slapd did not start: {}", self.log());
    }

    /// The slapd log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// How many bind requests slapd has received for `dn_part` (any DN when empty).
    pub fn binds(&self, dn_part: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(" BIND dn=\"") && l.contains("method=") && l.contains(dn_part))
            .count()
    }

    /// How many operations slapd has received (searches and binds).
    pub fn operations(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| {
                (l.contains(" BIND dn=\"") && l.contains("method=")) || l.contains(" SRCH base=")
            })
            .count()
    }

    /// Apply an LDIF change as the directory's root.
    pub async fn modify(&self, ldif: &str) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("ldapmodify")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .await
            .unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "ldapmodify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stop slapd (the directory goes down).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }
}

/// Generate a CA and a server certificate for 127.0.0.1 with openssl; returns the CA PEM
/// and the server files.
pub fn test_ca(dir: &std::path::Path, name: &str) -> (String, TlsFiles) {
    test_ca_for(dir, name, "127.0.0.1")
}

/// Like [`test_ca`], for a server at `ip`.
pub fn test_ca_for(dir: &std::path::Path, name: &str, ip: &str) -> (String, TlsFiles) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    let key = format!("{name}-server.key");
    let csr = format!("{name}-server.csr");
    let cert = format!("{name}-server.pem");
    let ext = format!("{name}-ext.cnf");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        &format!("/CN={ip}"),
    ]);
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    (
        std::fs::read_to_string(dir.join(&ca)).unwrap(),
        TlsFiles {
            cert: dir.join(cert),
            key: dir.join(key),
        },
    )
}
