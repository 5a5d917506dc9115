//! Reading users to import from CSV or LDIF, with the source line of every record so the
//! report can point at it. Parsing is the `csv` crate's and FreeIPA's `ldif-parser`'s
//! (base64 `::` values, folded continuation lines, comments); this module only maps
//! columns and attributes to the admin API's user fields.
//!
//! CSV: a header line naming the columns, in any order: `username` (required), `email`,
//! `name`, `password` (optional; an empty cell is no value). Lines starting with `#` are
//! comments.
//!
//! LDIF (RFC 2849): one entry per user: `uid` → username, `mail` → email, `displayName`
//! (else `cn`) → name, `userPassword` → password (clear text only: a `{SCHEME}` hash is
//! refused for that entry, since it cannot become an argon2id hash). Entries without
//! `uid` that are not persons (organizational units, groups) are skipped; a person without
//! `uid` is an error.

use secrecy::SecretString;
use std::path::Path;

/// One user to import.
#[derive(Debug)]
pub struct Record {
    /// Line of the source where the record starts (1-based; the `dn:` line in LDIF).
    pub line: u64,
    /// Username.
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Initial password.
    pub password: Option<SecretString>,
}

/// Why one record was not imported.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LineError {
    /// Line of the source (1-based).
    pub line: u64,
    /// The column or attribute to blame, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What a source file holds.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Records to import.
    pub records: Vec<Record>,
    /// Records that cannot be imported as they are.
    pub errors: Vec<LineError>,
    /// Entries that are not users (LDIF organizational units, groups, …).
    pub skipped: usize,
}

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// LDAP Data Interchange Format (RFC 2849).
    Ldif,
}

impl Format {
    /// The format given, or the one the file's extension names.
    pub fn of(path: &Path, given: Option<Format>) -> Result<Format, FileError> {
        if let Some(f) = given {
            return Ok(f);
        }
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("ldif") | Some("ldf") => Ok(Format::Ldif),
            _ => Err(FileError::UnknownFormat),
        }
    }

    /// The name a source gives to the API's user field `field`.
    pub fn source_field(self, field: &str) -> String {
        match (self, field) {
            (Format::Ldif, "username") => "uid".into(),
            (Format::Ldif, "email") => "mail".into(),
            (Format::Ldif, "name") => "displayName".into(),
            (Format::Ldif, "password") => "userPassword".into(),
            (_, other) => other.into(),
        }
    }
}

/// A problem with the whole file: nothing is imported.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FileError {
    /// Neither `--format` nor a known extension.
    #[error("cannot tell the format from the file name: pass --format csv or --format ldif")]
    UnknownFormat,
    /// The CSV header lacks `username`.
    #[error("the CSV header has no username column (columns: username, email, name, password)")]
    NoUsername,
    /// A CSV column we do not know.
    #[error(
        "the CSV header has an unknown column {0:?} (columns: username, email, name, password)"
    )]
    UnknownColumn(String),
    /// A CSV column twice.
    #[error("the CSV header has the column {0:?} twice")]
    DuplicateColumn(String),
    /// The CSV file could not be read at all.
    #[error("cannot read the CSV header: {0}")]
    Header(String),
    /// LDIF that is not UTF-8 text.
    #[error("the LDIF file is not UTF-8 text")]
    NotUtf8,
}

const COLUMNS: [&str; 4] = ["username", "email", "name", "password"];

/// A trimmed value, `None` when empty.
fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// Read CSV.
pub fn csv(data: &[u8]) -> Result<Parsed, FileError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        // Field counts are checked here: the csv crate's own check reports the line
        // where its read began, which is a comment line's when one precedes.
        .flexible(true)
        .trim(::csv::Trim::Headers)
        .from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| FileError::Header(e.to_string()))?
        .clone();
    let mut index = [None; 4];
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        let slot = COLUMNS
            .iter()
            .position(|c| *c == h)
            .ok_or_else(|| FileError::UnknownColumn(h.clone()))?;
        if index[slot].replace(i).is_some() {
            return Err(FileError::DuplicateColumn(h));
        }
    }
    let [Some(user_col), email_col, name_col, password_col] = index else {
        return Err(FileError::NoUsername);
    };
    let mut parsed = Parsed::default();
    for result in reader.records() {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| record_line(data, p)).unwrap_or(0);
                let reason = match e.kind() {
                    ::csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
                    _ => e.to_string(),
                };
                let fatal = matches!(e.kind(), ::csv::ErrorKind::Io(_));
                parsed.errors.push(LineError {
                    line,
                    field: None,
                    reason,
                });
                if fatal {
                    break;
                }
                continue;
            }
        };
        let line = record.position().map(|p| record_line(data, p)).unwrap_or(0);
        if record.len() != headers.len() {
            parsed.errors.push(LineError {
                line,
                field: None,
                reason: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let get = |col: Option<usize>| col.and_then(|c| record.get(c));
        let Some(username) = get(Some(user_col)).and_then(text) else {
            parsed.errors.push(LineError {
                line,
                field: Some("username".into()),
                reason: "is empty".into(),
            });
            continue;
        };
        parsed.records.push(Record {
            line,
            username,
            email: get(email_col).and_then(text),
            name: get(name_col).and_then(text),
            // Passwords are taken as written: spaces may be part of them.
            password: get(password_col)
                .filter(|p| !p.is_empty())
                .map(|p| SecretString::from(p.to_owned())),
        });
    }
    Ok(parsed)
}

/// The line a CSV record starts on. The csv crate's position is where its read began,
/// before the comment and blank lines it skipped; step over those.
fn record_line(data: &[u8], pos: &::csv::Position) -> u64 {
    let mut line = pos.line();
    let mut at = usize::try_from(pos.byte()).unwrap_or(usize::MAX);
    loop {
        let rest = data.get(at..).unwrap_or_default();
        let skip = if rest.first() == Some(&b'#') {
            rest.iter().position(|&b| b == b'\n').map(|n| n + 1)
        } else if rest.starts_with(b"\r\n") {
            Some(2)
        } else if rest.first() == Some(&b'\n') {
            Some(1)
        } else {
            None
        };
        match skip {
            Some(n) => {
                at += n;
                line += 1;
            }
            None => return line,
        }
    }
}

/// Refuse every record whose username (after the API's normalisation) an earlier line
/// already has: users are created concurrently, so which of two such lines won would
/// otherwise be a race.
pub fn refuse_duplicates(parsed: &mut Parsed, format: Format) {
    let mut first: std::collections::HashMap<String, u64> = Default::default();
    let records = std::mem::take(&mut parsed.records);
    for r in records {
        let key = crate::domain::Username::normalise(&r.username);
        match first.get(&key) {
            Some(line) => parsed.errors.push(LineError {
                line: r.line,
                field: Some(format.source_field("username")),
                reason: format!("the same username as line {line}"),
            }),
            None => {
                first.insert(key, r.line);
                parsed.records.push(r);
            }
        }
    }
}

/// Object classes of entries that must be users.
const PERSON_CLASSES: [&str; 5] = [
    "person",
    "organizationalperson",
    "inetorgperson",
    "posixaccount",
    "user",
];

/// Read LDIF: the file is cut into records at blank lines (which always end a record in
/// RFC 2849), each parsed by `ldif-parser`, so a bad record costs only itself and is
/// reported at its own line.
pub fn ldif(data: &[u8]) -> Result<Parsed, FileError> {
    let text = std::str::from_utf8(data).map_err(|_| FileError::NotUtf8)?;
    let mut parsed = Parsed::default();
    let mut block = String::new();
    let mut start = 0u64;
    let mut dn_line = None;
    let lines = text.lines().chain(std::iter::once(""));
    for (i, line) in lines.enumerate() {
        let n = i as u64 + 1;
        if !line.trim().is_empty() {
            if block.is_empty() {
                start = n;
            }
            if dn_line.is_none() && line.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("dn:")) {
                dn_line = Some(n);
            }
            block.push_str(line);
            block.push('\n');
            continue;
        }
        if !block.is_empty() {
            ldif_record(&block, dn_line.unwrap_or(start), &mut parsed);
            block.clear();
            dn_line = None;
        }
    }
    Ok(parsed)
}

fn ldif_record(block: &str, line: u64, parsed: &mut Parsed) {
    let error = |field: Option<&str>, reason: String| LineError {
        line,
        field: field.map(str::to_owned),
        reason,
    };
    let result = match ldif_parser::LdifParser::parse_with_warnings(block) {
        Ok(r) => r,
        Err(e) => {
            parsed.errors.push(error(None, e.to_string()));
            return;
        }
    };
    if result.skipped_url_references > 0 {
        parsed.errors.push(error(
            None,
            "a value refers to a URL (attr:< …), which import does not follow".into(),
        ));
        return;
    }
    if result.skipped_entries > 0 {
        parsed
            .errors
            .push(error(None, "the record has no dn: line".into()));
        return;
    }
    for entry in result.entries {
        let single = |attr: &str| -> Result<Option<String>, LineError> {
            match entry.get_attr(attr).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([v]) => Ok(text(v)),
                Some(_) => Err(error(Some(attr), "has several values".into())),
            }
        };
        let record = (|| {
            let Some(username) = single("uid")? else {
                if PERSON_CLASSES.iter().any(|c| entry.has_object_class(c)) {
                    return Err(error(Some("uid"), "a person without a uid".into()));
                }
                return Ok(None);
            };
            let password = match entry.get_attr("userPassword").map(Vec::as_slice) {
                None | Some([]) => None,
                Some([p]) if is_hashed(p) => {
                    return Err(error(
                        Some("userPassword"),
                        "is a hashed password, which cannot be imported; remove the attribute to import the user without a password".into(),
                    ));
                }
                Some([p]) => Some(SecretString::from(p.clone())),
                Some(_) => {
                    return Err(error(Some("userPassword"), "has several values".into()));
                }
            };
            let name = match single("displayName")? {
                Some(n) => Some(n),
                None => entry
                    .get_attr("cn")
                    .and_then(|v| v.first())
                    .and_then(|v| text(v)),
            };
            Ok(Some(Record {
                line,
                username,
                email: single("mail")?,
                name,
                password,
            }))
        })();
        match record {
            Ok(Some(r)) => parsed.records.push(r),
            Ok(None) => parsed.skipped += 1,
            Err(e) => parsed.errors.push(e),
        }
    }
}

/// An RFC 3112 `{SCHEME}hash` value (`{SSHA}`, `{CRYPT}`, `{ARGON2}`, …).
fn is_hashed(p: &str) -> bool {
    p.strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
        .is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn csv_columns_in_any_order_with_an_optional_password() {
        let data =
            b"email,username,password,name\nalice@example.com,alice, s3cret ,Alice A\n,bob,,\n";
        let p = csv(data).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(
            (
                a.line,
                a.username.as_str(),
                a.email.as_deref(),
                a.name.as_deref()
            ),
            (2, "alice", Some("alice@example.com"), Some("Alice A"))
        );
        assert_eq!(
            a.password.as_ref().unwrap().expose_secret(),
            " s3cret ",
            "passwords are not trimmed"
        );
        let b = &p.records[1];
        assert_eq!(
            (b.line, b.email.as_deref(), b.password.is_none()),
            (3, None, true)
        );
    }

    #[test]
    fn a_bad_csv_line_is_reported_at_its_line_and_the_others_are_read() {
        let data = b"username,email\nalice,a@x.example\n# a comment\nbob,b@x.example,extra\n,c@x.example\n\r\n# another\ncarol,\n";
        let p = csv(data).unwrap();
        let users: Vec<&str> = p.records.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(users, ["alice", "carol"]);
        assert_eq!(
            p.errors,
            vec![
                LineError {
                    line: 4,
                    field: None,
                    reason: "3 fields where the header has 2".into()
                },
                LineError {
                    line: 5,
                    field: Some("username".into()),
                    reason: "is empty".into()
                },
            ]
        );
        assert_eq!(p.records[1].line, 8, "after a blank line and a comment");
    }

    #[test]
    fn a_username_repeated_in_the_file_is_refused_at_its_later_lines() {
        let mut p = csv(b"username\nAlice\nbob\nalice\n").unwrap();
        refuse_duplicates(&mut p, Format::Csv);
        let users: Vec<&str> = p.records.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(users, ["Alice", "bob"]);
        assert_eq!(
            p.errors,
            vec![LineError {
                line: 4,
                field: Some("username".into()),
                reason: "the same username as line 2".into()
            }]
        );
    }

    #[test]
    fn a_bad_csv_header_stops_everything() {
        assert_eq!(csv(b"email\nx\n").unwrap_err(), FileError::NoUsername);
        assert_eq!(
            csv(b"username,role\nx,y\n").unwrap_err(),
            FileError::UnknownColumn("role".into())
        );
        assert_eq!(
            csv(b"username,Username\nx,y\n").unwrap_err(),
            FileError::DuplicateColumn("username".into())
        );
    }

    const LDIF: &str = "version: 1\n\
# people\n\
dn: ou=people,dc=example,dc=org\n\
objectClass: organizationalUnit\n\
ou: people\n\
\n\
dn: uid=alice,ou=people,dc=example,dc=org\n\
objectClass: inetOrgPerson\n\
uid: alice\n\
cn: Alice\n\
displayName:: w4lsaXNlIEFsaWNl\n\
mail: alice@exam\n ple.org\n\
userPassword: correct horse\n\
\n\
dn: uid=bob,ou=people,dc=example,dc=org\n\
objectClass: inetOrgPerson\n\
uid: bob\n\
userPassword: {SSHA}abcdefgh\n\
\n\
dn: cn=nouid,ou=people,dc=example,dc=org\n\
objectClass: person\n\
cn: nouid\n\
\n\
dn: uid=carol,ou=people,dc=example,dc=org\n\
uid: carol\n\
cn: Carol C\n";

    #[test]
    fn ldif_reads_base64_values_and_continued_lines() {
        let p = ldif(LDIF.as_bytes()).unwrap();
        let alice = &p.records[0];
        assert_eq!(alice.line, 7, "the dn: line");
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.name.as_deref(), Some("Élise Alice"), "base64 value");
        assert_eq!(
            alice.email.as_deref(),
            Some("alice@example.org"),
            "continued line"
        );
        assert_eq!(
            alice.password.as_ref().unwrap().expose_secret(),
            "correct horse"
        );
        let carol = &p.records[1];
        assert_eq!(
            (carol.line, carol.name.as_deref(), carol.password.is_none()),
            (25, Some("Carol C"), true)
        );
        assert_eq!(p.skipped, 1, "the organizational unit");
    }

    #[test]
    fn ldif_errors_name_the_record_line_and_attribute() {
        let p = ldif(LDIF.as_bytes()).unwrap();
        assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
        assert_eq!(
            (p.errors[0].line, p.errors[0].field.as_deref()),
            (16, Some("userPassword"))
        );
        assert_eq!(
            (p.errors[1].line, p.errors[1].field.as_deref()),
            (21, Some("uid"))
        );
    }

    #[test]
    fn a_malformed_ldif_record_costs_only_itself() {
        let data = "dn: uid=a,dc=x\nuid: a\nthis line has no colon\n\ndn: uid=b,dc=x\nuid: b\n";
        let p = ldif(data.as_bytes()).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].username, "b");
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 1);
    }

    #[test]
    fn the_format_comes_from_the_flag_or_the_extension() {
        assert_eq!(Format::of(Path::new("u.CSV"), None), Ok(Format::Csv));
        assert_eq!(Format::of(Path::new("u.ldif"), None), Ok(Format::Ldif));
        assert_eq!(
            Format::of(Path::new("u.txt"), Some(Format::Ldif)),
            Ok(Format::Ldif)
        );
        assert_eq!(
            Format::of(Path::new("u.txt"), None),
            Err(FileError::UnknownFormat)
        );
        assert!(is_hashed("{SSHA}xyz") && is_hashed("{ARGON2}$a") && !is_hashed("{not a hash"));
    }
}
