//! Foreign keys and indexes in the one shape every migration uses: cascading deletes,
//! and names derived from the table and columns so they are unique and predictable.

use sea_orm_migration::prelude::*;

/// `table.col → to.to_col`, deleting the row when its parent goes.
pub fn cascade_fk(
    table: &'static str,
    col: &'static str,
    to: &'static str,
    to_col: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to(to, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// The `subscription_id` foreign key every core tenant table carries (named
/// `fk_{table}_subscription`, as the first migration created it).
pub fn tenant_fk(table: &'static str) -> ForeignKeyCreateStatement {
    let mut fk = cascade_fk(table, "subscription_id", "subscriptions", "id");
    fk.name(format!("fk_{table}_subscription"));
    fk
}

/// An index on `cols` of `table`, unique or not.
pub fn index(table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{}", cols.join("_")))
        .table(table);
    for c in cols {
        idx.col(*c);
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}
