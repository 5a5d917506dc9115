//! Stand-alone migration CLI (`cargo run -p migrations -- up`); the server runs the same set.
use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migrations::Migrator).await;
}
