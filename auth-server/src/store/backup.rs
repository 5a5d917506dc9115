//! Backup and restore of the embedded SQLite database (`auth-server backup` /
//! `auth-server restore`). PostgreSQL deployments use `pg_dump`/`pg_restore`
//! (docs/operations.md "Backups"): its own tools are consistent online and
//! point-in-time capable, which nothing here could improve on.

use super::{Store, StoreError};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use std::path::{Path, PathBuf};

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Why a backup or restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL: use its own tools.
    #[error("the database is PostgreSQL: back it up with pg_dump (see docs/operations.md)")]
    NotSqlite,
    /// The target file exists; a backup never overwrites.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// The file to restore is not an SQLite database.
    #[error("{0} is not an SQLite database")]
    NotADatabase(PathBuf),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Store {
    /// A consistent copy of the live SQLite database in `out` (`VACUUM INTO`: one read
    /// transaction, so writers are not blocked and the copy is a single point in time).
    pub async fn backup_sqlite(&self, out: &Path) -> Result<(), BackupError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        if out.exists() {
            return Err(BackupError::Exists(out.to_owned()));
        }
        let quoted = out.display().to_string().replace('\'', "''");
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
            .await
            .map_err(|e: DbErr| BackupError::Store(e.into()))?;
        Ok(())
    }
}

/// The file behind a `sqlite://PATH[?…]` URL, or `None` for other databases.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Put the backup `from` in place of the SQLite database at `database_url`. The server
/// must be stopped: the WAL and shared-memory files of the old database are removed so
/// that none of its pages are replayed over the restored file.
pub fn restore_sqlite(database_url: &str, from: &Path) -> Result<(), BackupError> {
    let target = sqlite_path(database_url).ok_or(BackupError::NotSqlite)?;
    let mut magic = [0u8; 16];
    let readable = std::fs::File::open(from)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok();
    if !readable || &magic != SQLITE_MAGIC {
        return Err(BackupError::NotADatabase(from.to_owned()));
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Copy next to the target, then rename: a crash never leaves half a database.
    let staging = target.with_extension("db.restoring");
    std::fs::copy(from, &staging)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    std::fs::rename(&staging, &target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_urls_name_a_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/auth/auth.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/auth/auth.db"))
        );
        assert_eq!(sqlite_path("postgres://h/db"), None);
        assert_eq!(sqlite_path("sqlite://"), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a database at all").unwrap();
        let url = format!("sqlite://{}/auth.db", dir.path().display());
        assert!(matches!(
            restore_sqlite(&url, &junk),
            Err(BackupError::NotADatabase(_))
        ));
        assert!(!dir.path().join("auth.db").exists());
    }
}
