//! Pure rules of directory logins, kept apart from the network code so each is unit
//! tested: RFC 4515 filter building, the empty-password rule (RFC 4513 §5.1.2), AD
//! login-name forms, AD bind sub-code decoding, DN comparison, nested-group walking,
//! attribute mapping and group-mapping reconciliation.

use crate::domain::connection::GroupMapping;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Deepest group nesting followed; deeper chains are cut (and logged) rather than walked
/// forever.
pub const MAX_GROUP_DEPTH: usize = 16;
/// Most groups collected for one user.
pub const MAX_GROUPS: usize = 1000;

/// RFC 4513 §5.1.2: a bind with a DN and an empty password is an *unauthenticated* bind
/// that many servers answer with success. Passwords that are empty, or only whitespace
/// or NUL, are refused before any LDAP traffic. The password itself is never trimmed.
pub fn unusable_password(password: &str) -> bool {
    password.chars().all(|c| c.is_whitespace() || c == '\0')
}

/// The user filter with `{username}` replaced by the RFC 4515 escaped login name, so
/// `*)(uid=*` searches for that literal string and never widens the filter.
pub fn user_filter(template: &str, login: &str) -> String {
    template.replace("{username}", &ldap3::ldap_escape(login))
}

/// `(&{object_filter}({attr}={value}))` with `value` escaped.
pub fn member_filter(object_filter: &str, attr: &str, value: &str) -> String {
    format!("(&{object_filter}({attr}={}))", ldap3::ldap_escape(value))
}

/// `(&{object_filter}(|({attr}={v1})({attr}={v2})…))` with every value escaped: the
/// parents of a whole level of groups in one search.
pub fn member_any_filter(object_filter: &str, attr: &str, values: &[String]) -> String {
    let alternatives: String = values
        .iter()
        .map(|v| format!("({attr}={})", ldap3::ldap_escape(v.as_str())))
        .collect();
    format!("(&{object_filter}(|{alternatives}))")
}

/// Most groups whose parents are asked in one search.
pub const GROUP_BATCH: usize = 50;

/// AD's LDAP_MATCHING_RULE_IN_CHAIN: every group that has `user_dn` as a member,
/// directly or through nesting, in one query.
pub fn in_chain_filter(object_filter: &str, user_dn: &str) -> String {
    format!(
        "(&{object_filter}(member:1.2.840.113556.1.4.1941:={}))",
        ldap3::ldap_escape(user_dn)
    )
}

/// The default group object filter.
pub const GROUP_OBJECT_FILTER: &str = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))";

/// The name to search for in AD: `DOMAIN\user` becomes `user` when `DOMAIN` is the
/// connection's NetBIOS domain; a UPN stays whole (the default filter matches it against
/// `userPrincipalName`). `None` for another domain's `X\user`.
pub fn ad_login_name(login: &str, netbios: Option<&str>) -> Option<String> {
    match login.split_once('\\') {
        Some((domain, user)) => {
            let ours = netbios.is_some_and(|d| d.eq_ignore_ascii_case(domain));
            (ours && !user.is_empty()).then(|| user.to_owned())
        }
        None => Some(login.to_owned()),
    }
}

/// Why AD refused a bind whose password was correct, from the `data XXX` sub-code of
/// result 49 (SECURITY.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdAccountState {
    /// 52e (and 525, which must not be told apart from it): wrong user or password.
    BadCredentials,
    /// 530: not allowed to log on at this time.
    LogonHours,
    /// 531: not allowed to log on at this workstation.
    Workstation,
    /// 532: the password has expired.
    PasswordExpired,
    /// 533: the account is disabled.
    Disabled,
    /// 701: the account has expired.
    AccountExpired,
    /// 773: the user must change the password.
    MustChange,
    /// 775: the account is locked out.
    Locked,
}

impl AdAccountState {
    /// What the user is told (DESIGN.md: the words "disabled", "locked", "expired",
    /// "must change").
    pub fn message(self) -> &'static str {
        match self {
            AdAccountState::BadCredentials => "invalid username or password",
            AdAccountState::LogonHours => {
                "Your account is not allowed to sign in at this time. Contact your administrator."
            }
            AdAccountState::Workstation => {
                "Your account is not allowed to sign in from here. Contact your administrator."
            }
            AdAccountState::PasswordExpired => {
                "Your password has expired. Change it in your directory, then sign in again."
            }
            AdAccountState::Disabled => "This account is disabled. Contact your administrator.",
            AdAccountState::AccountExpired => {
                "This account has expired. Contact your administrator."
            }
            AdAccountState::MustChange => {
                "You must change your password before signing in. Change it in your directory, then sign in again."
            }
            AdAccountState::Locked => {
                "This account is locked. Try again later or contact your administrator."
            }
        }
    }
}

/// Decode AD's diagnostic text (`80090308: LdapErr: DSID-0C09044E, comment:
/// AcceptSecurityContext error, data 775, v4563`). Unknown or absent codes read as bad
/// credentials, the one message that reveals nothing.
pub fn decode_ad_bind_error(text: &str) -> AdAccountState {
    let code = text
        .split(", ")
        .find_map(|part| part.trim().strip_prefix("data "))
        .map(|c| c.trim().to_ascii_lowercase());
    match code.as_deref() {
        Some("530") => AdAccountState::LogonHours,
        Some("531") => AdAccountState::Workstation,
        Some("532") => AdAccountState::PasswordExpired,
        Some("533") => AdAccountState::Disabled,
        Some("701") => AdAccountState::AccountExpired,
        Some("773") => AdAccountState::MustChange,
        Some("775") => AdAccountState::Locked,
        _ => AdAccountState::BadCredentials,
    }
}

/// The filter finding a linked user again by its stable id. AD's `objectGUID` is binary:
/// the id was stored as the GUID's text form (little-endian fields, as AD shows it), so it
/// is turned back into the 16 octets and each is escaped (`\xx`, RFC 4515).
pub fn id_filter(attr: &str, external_id: &str) -> Option<String> {
    if attr.eq_ignore_ascii_case("objectGUID") {
        let guid = uuid::Uuid::parse_str(external_id).ok()?;
        let octets: String = guid
            .to_bytes_le()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect();
        return Some(format!("({attr}={octets})"));
    }
    Some(format!("({attr}={})", ldap3::ldap_escape(external_id)))
}

/// Operational and constructed attributes that carry an account's state; they are
/// returned only when asked for by name.
pub const ACCOUNT_STATE_ATTRIBUTES: [&str; 5] = [
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "accountExpires",
    "pwdAccountLockedTime",
    "nsAccountLock",
];

/// Seconds between 1601-01-01 (AD's FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;

/// Whether a directory entry still describes an account allowed to sign in at `now`
/// (Unix seconds): `Err` names the state that forbids it. AD: the disabled bit of
/// `userAccountControl`, the lockout bit of the computed control, `accountExpires`
/// (0 and `i64::MAX` mean never). OpenLDAP: a `pwdAccountLockedTime` (ppolicy) or a
/// 389-DS style `nsAccountLock: TRUE`.
pub fn account_state(
    attrs: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> Result<(), AdAccountState> {
    let number = |name: &str| first(attrs, name).and_then(|v| v.trim().parse::<i64>().ok());
    if number("useraccountcontrol").is_some_and(|uac| uac & 0x2 != 0) {
        return Err(AdAccountState::Disabled);
    }
    if number("msds-user-account-control-computed").is_some_and(|c| c & 0x10 != 0) {
        return Err(AdAccountState::Locked);
    }
    if let Some(expires) = number("accountexpires")
        && expires > 0
        && expires != i64::MAX
        && expires / 10_000_000 - FILETIME_UNIX_OFFSET <= now
    {
        return Err(AdAccountState::AccountExpired);
    }
    if first(attrs, "pwdaccountlockedtime").is_some() {
        return Err(AdAccountState::Locked);
    }
    if first(attrs, "nsaccountlock").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Err(AdAccountState::Disabled);
    }
    Ok(())
}

/// A DN in comparable form: lower case, no spaces around `,` and `=` (RFC 4514 allows
/// them on input; directories return either).
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut escaped = false;
    let mut pending_space = false;
    // Whether the last character written is an unescaped separator (spaces after one
    // are insignificant).
    let mut after_separator = true;
    for c in dn.trim().chars() {
        if escaped {
            out.extend(c.to_lowercase());
            escaped = false;
            after_separator = false;
            continue;
        }
        match c {
            ' ' => pending_space = true,
            ',' | '=' | '+' => {
                pending_space = false;
                out.push(c);
                after_separator = true;
            }
            _ => {
                if pending_space && !after_separator {
                    out.push(' ');
                }
                pending_space = false;
                after_separator = false;
                if c == '\\' {
                    out.push(c);
                    escaped = true;
                } else {
                    out.extend(c.to_lowercase());
                }
            }
        }
    }
    out
}

/// Breadth-first walk up a group graph: cycle-safe (every group visited once) and
/// bounded (depth and count). The caller feeds the parents of each batch.
#[derive(Debug, Default)]
pub struct GroupWalk {
    seen: BTreeSet<String>,
    queue: VecDeque<(String, usize)>,
    /// Whether a bound cut the walk short.
    pub truncated: bool,
}

impl GroupWalk {
    /// Start from the user's direct groups.
    pub fn new(direct: impl IntoIterator<Item = String>) -> GroupWalk {
        let mut w = GroupWalk::default();
        w.add(direct, 0);
        w
    }

    fn add(&mut self, groups: impl IntoIterator<Item = String>, depth: usize) {
        for g in groups {
            let key = normalize_dn(&g);
            if self.seen.len() >= MAX_GROUPS {
                self.truncated = true;
                return;
            }
            if self.seen.insert(key.clone()) {
                if depth < MAX_GROUP_DEPTH {
                    self.queue.push_back((key, depth));
                } else {
                    self.truncated = true;
                }
            }
        }
    }

    /// The next group whose parents are wanted, with its depth.
    pub fn next_group(&mut self) -> Option<(String, usize)> {
        self.queue.pop_front()
    }

    /// Record the parents of a group at `depth`.
    pub fn parents(&mut self, parents: impl IntoIterator<Item = String>, depth: usize) {
        self.add(parents, depth + 1);
    }

    /// Every group found (normalised DNs).
    pub fn groups(self) -> BTreeSet<String> {
        self.seen
    }
}

/// The first value of an entry attribute, looked up case-insensitively.
pub fn first<'a>(attrs: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    attrs
        .get(&name.to_ascii_lowercase())
        .and_then(|v| v.first())
        .map(String::as_str)
}

/// Mapped profile of a directory or upstream user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// E-mail (from the `email` mapping).
    pub email: Option<String>,
    /// Display name (from the `name` mapping).
    pub name: Option<String>,
    /// Every other mapped attribute.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Apply `user attribute → source attribute` rules to an entry (attribute names
/// lower-cased). `email` and `name` fill the user's fields; other names become ACL
/// attributes (a string, or an array when the source has several values). Unset
/// sources leave the attribute out, so a value removed in the directory disappears.
pub fn map_attributes(
    rules: &BTreeMap<String, String>,
    attrs: &BTreeMap<String, Vec<String>>,
) -> Profile {
    let mut p = Profile::default();
    for (target, source) in rules {
        let Some(values) = attrs.get(&source.to_ascii_lowercase()) else {
            continue;
        };
        let Some(first) = values.first().cloned() else {
            continue;
        };
        match target.as_str() {
            "email" => p.email = Some(first),
            "name" => p.name = Some(first),
            _ => {
                let v = if values.len() == 1 {
                    serde_json::Value::String(first)
                } else {
                    serde_json::Value::from(values.clone())
                };
                p.attributes.insert(target.clone(), v);
            }
        }
    }
    p
}

/// A workspace group named by a mapping: (workspace slug, group name).
pub type WorkspaceGroup = (String, String);

/// The workspace groups the rules govern (a membership in one of them is added or
/// removed at each login; other memberships are left alone).
pub fn managed_groups(rules: &[GroupMapping]) -> BTreeSet<WorkspaceGroup> {
    rules
        .iter()
        .map(|m| (m.workspace.clone(), m.group.clone()))
        .collect()
}

/// The workspace groups the user belongs in. Directory group DNs compare normalised;
/// upstream claim values (`dn_values == false`) compare exactly.
pub fn desired_groups(
    rules: &[GroupMapping],
    user_groups: &BTreeSet<String>,
    dn_values: bool,
) -> BTreeSet<WorkspaceGroup> {
    rules
        .iter()
        .filter(|m| {
            if dn_values {
                user_groups.contains(&normalize_dn(&m.directory_group))
            } else {
                user_groups.contains(&m.directory_group)
            }
        })
        .map(|m| (m.workspace.clone(), m.group.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), vec![(*v).to_owned()]))
            .collect()
    }

    #[test]
    fn f7_a_guid_id_filter_round_trips_the_octets_ad_stores() {
        // The GUID's text form has little-endian first fields, as `external_id` made it.
        let octets: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
        let text = uuid::Uuid::from_bytes_le(octets).to_string();
        let filter = id_filter("objectGUID", &text).unwrap();
        let expected: String = octets.iter().map(|b| format!("\\{b:02x}")).collect();
        assert_eq!(filter, format!("(objectGUID={expected})"));
        assert_eq!(id_filter("objectGUID", "not-a-guid"), None);
        assert_eq!(
            id_filter("entryUUID", "a*)(uid=*").unwrap(),
            "(entryUUID=a\\2a\\29\\28uid=\\2a)"
        );
    }

    #[test]
    fn f7_account_states_that_end_a_directory_users_grants() {
        let now = 1_800_000_000;
        let filetime = |unix: i64| ((unix + FILETIME_UNIX_OFFSET) * 10_000_000).to_string();
        assert_eq!(account_state(&entry(&[("uid", "alice")]), now), Ok(()));
        assert_eq!(
            account_state(&entry(&[("userAccountControl", "512")]), now),
            Ok(())
        );
        assert_eq!(
            account_state(&entry(&[("userAccountControl", "514")]), now),
            Err(AdAccountState::Disabled)
        );
        assert_eq!(
            account_state(&entry(&[("msDS-User-Account-Control-Computed", "16")]), now),
            Err(AdAccountState::Locked)
        );
        for never in ["0", "9223372036854775807"] {
            assert_eq!(
                account_state(&entry(&[("accountExpires", never)]), now),
                Ok(())
            );
        }
        assert_eq!(
            account_state(&entry(&[("accountExpires", &filetime(now + 60))]), now),
            Ok(())
        );
        assert_eq!(
            account_state(&entry(&[("accountExpires", &filetime(now - 60))]), now),
            Err(AdAccountState::AccountExpired)
        );
        assert_eq!(
            account_state(&entry(&[("pwdAccountLockedTime", "000001010000Z")]), now),
            Err(AdAccountState::Locked)
        );
        assert_eq!(
            account_state(&entry(&[("nsAccountLock", "TRUE")]), now),
            Err(AdAccountState::Disabled)
        );
    }

    #[test]
    fn empty_and_blank_passwords_are_unusable() {
        for p in ["", " ", "\t\n", "\0", " \0 "] {
            assert!(unusable_password(p), "{p:?}");
        }
        assert!(!unusable_password(" a "));
    }

    #[test]
    fn injection_attempts_stay_literal_values() {
        let f = user_filter("(&(objectClass=person)(uid={username}))", "*)(uid=*");
        assert_eq!(f, "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))");
        let f = user_filter("(uid={username})", "admin)(|(objectClass=*)");
        assert_eq!(f, "(uid=admin\\29\\28|\\28objectClass=\\2a\\29)");
        assert_eq!(user_filter("(uid={username})", "x\0"), "(uid=x\\00)");
        assert_eq!(user_filter("(uid={username})", "\\"), "(uid=\\5c)");
        // Every escaped filter still parses as one equality match.
        for bad in [
            "*",
            "a*",
            "*)(uid=*",
            "admin)(|(objectClass=*)",
            "x\0",
            "\\",
        ] {
            assert!(ldap3::parse_filter(user_filter("(uid={username})", bad)).is_ok());
        }
    }

    #[test]
    fn batched_member_filters_escape_every_value() {
        let f = member_any_filter(
            "(objectClass=groupOfNames)",
            "member",
            &["cn=a*,dc=x".into(), "cn=(b),dc=x".into()],
        );
        assert_eq!(
            f,
            "(&(objectClass=groupOfNames)(|(member=cn=a\\2a,dc=x)(member=cn=\\28b\\29,dc=x)))"
        );
        assert!(ldap3::parse_filter(&f).is_ok());
    }

    #[test]
    fn ad_names_accept_our_domain_only() {
        assert_eq!(
            ad_login_name("CORP\\alice", Some("corp")).as_deref(),
            Some("alice")
        );
        assert_eq!(ad_login_name("OTHER\\alice", Some("corp")), None);
        assert_eq!(
            ad_login_name("alice@corp.example", Some("corp")).as_deref(),
            Some("alice@corp.example")
        );
        assert_eq!(ad_login_name("CORP\\", Some("corp")), None);
    }

    #[test]
    fn ad_sub_codes_decode_to_their_states() {
        let text = |c: &str| {
            format!(
                "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {c}, v4563\0"
            )
        };
        let cases = [
            ("52e", AdAccountState::BadCredentials),
            ("525", AdAccountState::BadCredentials),
            ("530", AdAccountState::LogonHours),
            ("531", AdAccountState::Workstation),
            ("532", AdAccountState::PasswordExpired),
            ("533", AdAccountState::Disabled),
            ("701", AdAccountState::AccountExpired),
            ("773", AdAccountState::MustChange),
            ("775", AdAccountState::Locked),
        ];
        for (code, state) in cases {
            assert_eq!(decode_ad_bind_error(&text(code)), state, "{code}");
        }
        assert_eq!(decode_ad_bind_error(""), AdAccountState::BadCredentials);
        assert!(AdAccountState::Disabled.message().contains("disabled"));
        assert!(AdAccountState::Locked.message().contains("locked"));
        assert!(AdAccountState::AccountExpired.message().contains("expired"));
        assert!(AdAccountState::MustChange.message().contains("must change"));
    }

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(
            normalize_dn("CN=Admins, OU=Groups ,DC=Corp"),
            "cn=admins,ou=groups,dc=corp"
        );
        assert_eq!(
            normalize_dn("cn=Smith\\, John,dc=x"),
            "cn=smith\\, john,dc=x"
        );
        assert_eq!(normalize_dn("cn=Two  Words"), "cn=two words");
    }

    #[test]
    fn group_walks_end_on_cycles_and_depth() {
        // a -> b -> a (cycle), b -> c.
        let mut w = GroupWalk::new(["cn=a".to_string()]);
        let parents = |g: &str| -> Vec<String> {
            match g {
                "cn=a" => vec!["cn=b".into()],
                "cn=b" => vec!["cn=a".into(), "cn=c".into()],
                _ => vec![],
            }
        };
        let mut steps = 0;
        while let Some((g, d)) = w.next_group() {
            steps += 1;
            w.parents(parents(&g), d);
        }
        assert_eq!(steps, 3);
        assert!(!w.truncated);
        assert_eq!(w.groups().len(), 3);
        // A chain deeper than the bound is cut.
        let mut w = GroupWalk::new(["cn=g0".to_string()]);
        while let Some((g, d)) = w.next_group() {
            let n: usize = g[4..].parse().unwrap();
            w.parents([format!("cn=g{}", n + 1)], d);
        }
        assert!(w.truncated);
        assert_eq!(w.groups().len(), MAX_GROUP_DEPTH + 1);
    }

    #[test]
    fn attributes_map_to_fields_and_acl_attributes() {
        let rules: BTreeMap<String, String> = [
            ("email", "mail"),
            ("name", "cn"),
            ("department", "departmentNumber"),
            ("phones", "telephoneNumber"),
            ("missing", "nothing"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let attrs: BTreeMap<String, Vec<String>> = [
            ("mail", vec!["a@x.org"]),
            ("cn", vec!["Alice"]),
            ("departmentnumber", vec!["sales"]),
            ("telephonenumber", vec!["1", "2"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let p = map_attributes(&rules, &attrs);
        assert_eq!(p.email.as_deref(), Some("a@x.org"));
        assert_eq!(p.name.as_deref(), Some("Alice"));
        assert_eq!(p.attributes["department"], "sales");
        assert_eq!(p.attributes["phones"], serde_json::json!(["1", "2"]));
        assert!(!p.attributes.contains_key("missing"));
    }

    #[test]
    fn group_rules_compare_dns_loosely_and_claims_exactly() {
        let rules = vec![
            GroupMapping {
                directory_group: "CN=Staff,OU=Groups,DC=corp".into(),
                workspace: "main".into(),
                group: "staff".into(),
            },
            GroupMapping {
                directory_group: "cn=admins,ou=groups,dc=corp".into(),
                workspace: "main".into(),
                group: "admins".into(),
            },
        ];
        let user: BTreeSet<String> = [normalize_dn("cn=staff, ou=groups, dc=corp")].into();
        let want = desired_groups(&rules, &user, true);
        assert_eq!(want, [("main".to_string(), "staff".to_string())].into());
        assert_eq!(managed_groups(&rules).len(), 2);
        let claims: BTreeSet<String> = ["cn=staff,ou=groups,dc=corp".to_string()].into();
        assert!(desired_groups(&rules, &claims, false).is_empty());
    }
}
