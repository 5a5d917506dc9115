//! The audit chain's head hash follows its events in the database: a trigger sets
//! `audit_heads.hash` when the event at the head's sequence number is inserted. An
//! append was three statements (bump the head, insert the event, store its hash in the
//! head) and every login and admin change appends; it is now two, one round trip less
//! (and on PostgreSQL, a scoped statement less). Only the event whose `seq` is the
//! head's moves it, so rows inserted out of order (an import, which writes the heads
//! itself) leave the head alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &str = "\
CREATE TRIGGER IF NOT EXISTS audit_events_advance_head AFTER INSERT ON audit_events
BEGIN
  UPDATE audit_heads SET hash = NEW.hash
  WHERE subscription_id = NEW.subscription_id AND seq = NEW.seq AND NEW.hash IS NOT NULL;
END";

// Idempotent, like the row-security migration: a half-applied run redone under the
// migration lock converges.
const POSTGRES_UP: &str = "\
CREATE OR REPLACE FUNCTION audit_events_advance_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE audit_heads SET hash = NEW.hash
  WHERE subscription_id = NEW.subscription_id AND seq = NEW.seq AND NEW.hash IS NOT NULL;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS audit_events_advance_head ON audit_events;
CREATE TRIGGER audit_events_advance_head AFTER INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_advance_head()";

const SQLITE_DOWN: &str = "DROP TRIGGER IF EXISTS audit_events_advance_head";

const POSTGRES_DOWN: &str = "\
DROP TRIGGER IF EXISTS audit_events_advance_head ON audit_events;
DROP FUNCTION IF EXISTS audit_events_advance_head()";

fn pick(m: &SchemaManager<'_>, sqlite: &'static str, postgres: &'static str) -> &'static str {
    match m.get_database_backend() {
        sea_orm::DbBackend::Postgres => postgres,
        _ => sqlite,
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(pick(m, SQLITE_UP, POSTGRES_UP))
            .await
            .map(drop)
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(pick(m, SQLITE_DOWN, POSTGRES_DOWN))
            .await
            .map(drop)
    }
}
