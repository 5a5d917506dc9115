//! Read-only facts about the database for `auth-server doctor`: which migrations are
//! applied, and the database server's clock. Nothing here writes: sea-orm's own
//! `get_pending_migrations` creates the `seaql_migrations` table when it is missing, which
//! a diagnosis must not do.

use super::{Store, StoreError};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Migrations of this binary compared with those recorded in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Known to this binary and applied.
    pub applied: usize,
    /// Known to this binary, not applied yet (applied at the next start or by `migrate`).
    pub pending: Vec<String>,
    /// Recorded in the database but unknown to this binary: a newer release migrated it.
    pub unknown: Vec<String>,
}

/// Compare the binary's migrations (`known`, in order) with the recorded ones.
pub fn compare_migrations(known: &[String], recorded: &[String]) -> MigrationStatus {
    let pending = known
        .iter()
        .filter(|k| !recorded.contains(k))
        .cloned()
        .collect();
    let unknown = recorded
        .iter()
        .filter(|r| !known.contains(r))
        .cloned()
        .collect();
    let applied = known.iter().filter(|k| recorded.contains(k)).count();
    MigrationStatus {
        applied,
        pending,
        unknown,
    }
}

impl Store {
    /// The binary's migrations against the database's `seaql_migrations` table (a
    /// database without the table has every migration pending).
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        use migrations::MigratorTrait;
        let known: Vec<String> = migrations::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let backend = self.db.get_database_backend();
        let exists = match backend {
            DbBackend::Postgres => {
                "SELECT count(*)::bigint AS n FROM information_schema.tables \
                                    WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
            }
            _ => {
                "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
            }
        };
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, exists))
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("", "n")?,
            None => 0,
        };
        let mut recorded = Vec::new();
        if n > 0 {
            let sql = "SELECT version FROM seaql_migrations ORDER BY version";
            for row in self
                .db
                .query_all_raw(Statement::from_string(backend, sql))
                .await?
            {
                recorded.push(row.try_get::<String>("", "version")?);
            }
        }
        Ok(compare_migrations(&known, &recorded))
    }

    /// The database server's clock (`SELECT now()`) in Unix seconds with fractions, or
    /// `None` on SQLite, which runs in this process and has no clock of its own.
    pub async fn database_time(&self) -> Result<Option<f64>, StoreError> {
        let backend = self.db.get_database_backend();
        if backend != DbBackend::Postgres {
            return Ok(None);
        }
        let sql = "SELECT extract(epoch FROM now())::float8 AS t";
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, sql))
            .await?;
        match row {
            Some(r) => Ok(Some(r.try_get("", "t")?)),
            None => Err(StoreError::Corrupt("SELECT now()")),
        }
    }

    /// Whether this is PostgreSQL (as opposed to the embedded SQLite).
    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pending_and_unknown_migrations_are_told_apart() {
        let known = names(&["m1", "m2", "m3"]);
        let s = compare_migrations(&known, &names(&["m1", "m2", "m3"]));
        assert_eq!((s.applied, s.pending.len(), s.unknown.len()), (3, 0, 0));
        let s = compare_migrations(&known, &names(&["m1"]));
        assert_eq!(s.pending, names(&["m2", "m3"]));
        let s = compare_migrations(&known, &names(&["m1", "m2", "m3", "m4"]));
        assert_eq!((s.applied, s.unknown), (3, names(&["m4"])));
        assert_eq!(compare_migrations(&known, &[]).pending, known);
    }
}
