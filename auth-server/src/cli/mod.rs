//! The command line: `serve` and the operator commands (`migrate`, `keys`, `audit`,
//! `backup`, `restore`, `doctor`), and `admin`, which runs the public admin API in-process so that
//! every console action is also a command (see `docs/console.md`, "Command line").
//!
//! Layering: this module sits on top of `http` like `startup` does; the `admin` commands
//! go through the admin API's own handlers ([`api`]), never around them.

pub mod admin;
pub mod api;
pub mod body;
pub mod import;
mod ops;
pub mod output;
pub mod progress;
mod provision;
mod resources;
mod subscriptions;
mod users;

use crate::config::Settings;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A multi-tenant OAuth 2.1 / OpenID Connect authorization server.
#[derive(Parser)]
#[command(name = "auth-server", version, after_help = help_footer())]
pub struct Cli {
    /// TOML configuration file (keys are the variable names without AUTH_, lower case).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: ops::KeysCommand,
    },
    /// The audit log: verify the hash chain, export, apply retention.
    Audit {
        #[command(subcommand)]
        command: ops::AuditCommand,
    },
    /// Write a consistent copy of the SQLite database to FILE (PostgreSQL: use pg_dump).
    Backup {
        /// The backup file to create (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Replace the SQLite database with a backup; the server must be stopped.
    Restore {
        /// The backup file written by `backup`.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
    /// Check configuration, database, Redis, clock skew, signing keys and TLS; one line
    /// per check (`ok|warn|fail  name  detail`), exit status 1 when a check fails.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Administration through the admin API, run in-process on the configured database
    /// (no server needed): every console action, as a command.
    Admin(admin::AdminArgs),
    /// Print a shell completion script to standard output.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn help_footer() -> String {
    format!(
        "Environment variables (also settable in the --config file):\n{}",
        Settings::help_table()
    )
}

/// Run a parsed command line; the exit code is 0 on success, 1 on a failure (its reason
/// on standard error), 2 on a configuration error.
pub async fn main(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve);
    // Completion scripts need no configuration: they work on a machine without one.
    if let Command::Completion { shell } = command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "auth-server",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("auth-server: {e}");
            return ExitCode::from(2);
        }
    };
    let log_to = if matches!(command, Command::Serve) {
        crate::telemetry::LogTo::Stdout
    } else {
        crate::telemetry::LogTo::Stderr
    };
    crate::telemetry::init(&settings.log, settings.log_json, log_to);
    let result = match command {
        Command::Serve => ops::serve(settings).await,
        Command::Migrate => ops::migrate(settings).await,
        Command::Keys { command } => ops::keys(command, settings).await,
        Command::Backup { out } => ops::backup(settings, &out).await,
        Command::Restore { from } => ops::restore(&settings, &from),
        Command::Audit { command } => ops::audit(command, settings).await,
        Command::Doctor { json } => crate::doctor::cli(&settings, json)
            .await
            .map_err(anyhow::Error::from),
        Command::Admin(args) => admin::run(args, settings).await,
        Command::Completion { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auth-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
