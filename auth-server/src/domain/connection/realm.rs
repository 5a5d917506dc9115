//! Home-realm routing (DESIGN.md "Login and 2FA pages"): which connection a login name
//! typed on the form belongs to, by e-mail domain, AD domain or username pattern.

use super::Connection;

/// Case-insensitive glob with `*` only.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether `conn` claims this login name: its e-mail domain, an AD `DOMAIN\user` or
/// UPN suffix, or one of its username patterns.
pub fn claims(conn: &Connection, login: &str) -> bool {
    let c = &conn.config;
    let lower = login.to_lowercase();
    if let Some((_, domain)) = lower.rsplit_once('@') {
        let claimed = c
            .domains
            .iter()
            .chain(c.upn_suffix.iter())
            .any(|d| d.eq_ignore_ascii_case(domain));
        if claimed {
            return true;
        }
    }
    if let (Some(d), Some((prefix, _))) = (&c.domain, lower.split_once('\\'))
        && d.eq_ignore_ascii_case(prefix)
    {
        return true;
    }
    c.username_patterns.iter().any(|p| glob(p, login))
}

/// Home-realm routing: the first enabled connection (in order) that claims the name.
pub fn home_realm<'a>(conns: &'a [Connection], login: &str) -> Option<&'a Connection> {
    conns.iter().find(|c| c.enabled && claims(c, login))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::connection::{ConnectionConfig, ConnectionKind, StoredSecret};

    fn conn(name: &str, config: ConnectionConfig) -> Connection {
        Connection {
            id: name.into(),
            name: name.into(),
            kind: ConnectionKind::ActiveDirectory,
            enabled: true,
            order: 0,
            config,
            secret: StoredSecret::None,
            updated_at: 0,
        }
    }

    #[test]
    fn home_realm_follows_domains_netbios_names_and_patterns() {
        let corp = conn(
            "corp",
            ConnectionConfig {
                domains: vec!["corp.example".into()],
                domain: Some("CORP".into()),
                ..Default::default()
            },
        );
        let ext = conn(
            "ext",
            ConnectionConfig {
                username_patterns: vec!["ext-*".into()],
                ..Default::default()
            },
        );
        let list = vec![corp, ext];
        assert_eq!(
            home_realm(&list, "alice@Corp.Example").unwrap().name,
            "corp"
        );
        assert_eq!(home_realm(&list, "corp\\alice").unwrap().name, "corp");
        assert_eq!(home_realm(&list, "EXT-bob").unwrap().name, "ext");
        assert!(home_realm(&list, "alice@corp.example.evil").is_none());
        assert!(home_realm(&list, "alice").is_none());
        let mut disabled = list.clone();
        disabled[0].enabled = false;
        assert!(home_realm(&disabled, "alice@corp.example").is_none());
    }

    #[test]
    fn glob_matches_only_whole_names() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*@x.org", "me@X.org"));
        assert!(!glob("a*c", "abcd"));
        assert!(!glob("ab", "a"));
    }
}
