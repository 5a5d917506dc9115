//! §5.1 T12, the database half: PostgreSQL row-level security scopes every tenant table
//! to the subscription of the connection the repositories get, so a repository bug that
//! drops the `subscription_id` filter still sees (and writes) no foreign row. SQLite has
//! no row security: there the same unfiltered query sees every tenant (the documented
//! limit), which this test states too.

use auth_server::service::tenants::resolve;
use e2e::{Backend, TestApp, on_backends};

on_backends!(t12_an_unfiltered_query_on_a_tenant_connection_sees_no_foreign_row);

/// Sorted, deduplicated.
fn distinct(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

async fn t12_an_unfiltered_query_on_a_tenant_connection_sees_no_foreign_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("rls-a").await;
    app.create_subscription("rls-b").await;
    app.create_user("rls-a", "alice", "correct horse battery")
        .await;
    app.create_user("rls-b", "bob", "correct horse battery")
        .await;
    let a = resolve(&app.ctx, "rls-a").await.unwrap().id.clone();
    let b = resolve(&app.ctx, "rls-b").await.unwrap().id.clone();
    let tenant_a = app.ctx.db(&a).await.unwrap();

    // The repository bug: no `WHERE subscription_id = …`, on A's connection.
    let seen = tenant_a
        .unfiltered_sql_for_test("SELECT subscription_id FROM users")
        .await
        .unwrap();
    if backend == Backend::Sqlite {
        // No row security on SQLite: the repositories' filter is the only guard.
        assert!(distinct(seen).contains(&b.0));
        return;
    }
    assert_eq!(distinct(seen), vec![a.0.clone()], "A sees its users only");
    // In a transaction of A (what `ctx.begin` gives the services), the same.
    let tx = app.ctx.begin(&a).await.unwrap();
    let in_tx = tx
        .unfiltered_sql_for_test("SELECT subscription_id FROM users")
        .await
        .unwrap();
    assert_eq!(distinct(in_tx), vec![a.0.clone()], "A's transaction");
    drop(tx);
    // Another table, the same.
    let keys = tenant_a
        .unfiltered_sql_for_test("SELECT subscription_id FROM signing_keys")
        .await
        .unwrap();
    assert_eq!(distinct(keys), vec![a.0.clone()]);

    // Not vacuous: the application's role is subject to row security, B's rows exist,
    // and every table with a subscription_id column is under a forced policy.
    let store = &app.ctx.store;
    let exempt = store
        .unscoped_sql_for_test(
            "SELECT (rolsuper OR rolbypassrls)::text FROM pg_roles WHERE rolname = current_user",
        )
        .await
        .unwrap();
    assert_eq!(
        exempt,
        vec!["false".to_owned()],
        "the app role bypasses RLS"
    );
    let b_users = app
        .ctx
        .db(&b)
        .await
        .unwrap()
        .unfiltered_sql_for_test("SELECT subscription_id FROM users")
        .await
        .unwrap();
    assert_eq!(distinct(b_users), vec![b.0.clone()]);
    let unguarded = store
        .unscoped_sql_for_test(
            "SELECT c.table_name::text FROM information_schema.columns c \
             JOIN pg_class k ON k.relname = c.table_name \
              AND k.relnamespace = current_schema()::regnamespace \
             WHERE c.table_schema = current_schema() AND c.column_name = 'subscription_id' \
               AND NOT (k.relrowsecurity AND k.relforcerowsecurity) ORDER BY 1",
        )
        .await
        .unwrap();
    assert_eq!(unguarded, Vec::<String>::new(), "tenant tables without RLS");

    // No tenant set (a connection that skipped the scope): nothing at all. The pooled
    // connections just used by A's statements kept no setting either.
    let none = store
        .unscoped_sql_for_test("SELECT subscription_id FROM users")
        .await
        .unwrap();
    assert_eq!(none, Vec::<String>::new(), "fail closed without a tenant");

    // Writes: B's rows are invisible to A's UPDATE and DELETE, and A cannot write a row
    // carrying B's id (WITH CHECK), neither by insert nor by moving its own row.
    let deleted = tenant_a
        .unfiltered_sql_for_test(&format!(
            "DELETE FROM users WHERE subscription_id = '{}' RETURNING subscription_id",
            b.0
        ))
        .await
        .unwrap();
    assert_eq!(deleted, Vec::<String>::new());
    let planted = tenant_a
        .unfiltered_sql_for_test(&format!(
            "INSERT INTO revoked_tokens (jti, subscription_id, expires_at) \
             VALUES ('t12-planted', '{}', 4102444800) RETURNING subscription_id",
            b.0
        ))
        .await;
    assert!(planted.is_err(), "insert of B's row under A: {planted:?}");
    let moved = tenant_a
        .unfiltered_sql_for_test(&format!(
            "UPDATE users SET subscription_id = '{}' RETURNING subscription_id",
            b.0
        ))
        .await;
    assert!(moved.is_err(), "A's row moved to B: {moved:?}");
    // B still has its user; A's survived the refused update.
    let after = distinct(
        app.ctx
            .db(&b)
            .await
            .unwrap()
            .unfiltered_sql_for_test("SELECT subscription_id FROM users")
            .await
            .unwrap(),
    );
    assert_eq!(after, vec![b.0.clone()], "B's user is still there");
    assert_eq!(
        distinct(
            tenant_a
                .unfiltered_sql_for_test("SELECT subscription_id FROM users")
                .await
                .unwrap()
        ),
        vec![a.0.clone()],
        "A's user is still A's"
    );
}
