//! The `auth-server` binary: serve, migrate, rotate keys, and the first admin
//! operations from the command line.

use auth_server::config::Settings;
use auth_server::domain::{AuthMethod, ClientSpec, GrantType, Scope, Slug, TokenFormat, Username};
use auth_server::service::{Actor, clients, keys, tenants, transfer, users};
use auth_server::startup::{Application, BuildOptions, build_ctx, connect_store};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// glibc's allocator spent about a quarter of the server's CPU under load (fastbin
// consolidation on every large free); mimalloc's per-thread free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A multi-tenant OAuth 2.1 / OpenID Connect authorization server.
#[derive(Parser)]
#[command(name = "auth-server", version, after_help = help_footer())]
struct Cli {
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
        command: KeysCommand,
    },
    /// The audit log: verify the hash chain, export, apply retention.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
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
    /// Administration without the HTTP API.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Rotate a subscription's keys: next becomes active, a new next is published, the
    /// old active key stays published until its tokens expire.
    Rotate {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the subscription's hash chain; exits non-zero at the first break.
    Verify {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
    /// Write events as JSON lines to standard output (for a SIEM).
    Export {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Only events at or after this time (Unix seconds).
        #[arg(long)]
        since: Option<i64>,
    },
    /// Retention: export events older than N days to a file, then delete them.
    Prune {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Keep this many days (default: the subscription's `audit_retention_days`).
        #[arg(long)]
        older_than_days: Option<u32>,
        /// File to write the pruned events to first (JSON lines).
        #[arg(long)]
        export_to: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Subscriptions.
    Subscription {
        #[command(subcommand)]
        command: SubscriptionCommand,
    },
    /// OAuth clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum SubscriptionCommand {
    /// Create a subscription; prints its issuer and MCP client credentials (once).
    Create {
        /// Slug: [a-z0-9][a-z0-9-]{1,62}.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A dedicated database for all its tenant data (postgres://, postgresql:// or
        /// sqlite:); it is migrated first. Default: the shared database.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Write one subscription (keys and secrets re-encrypted under a passphrase) to a
    /// new bundle file, to import on another deployment.
    Export {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// The bundle file to create (never overwritten; mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// File holding the passphrase (default: AUTH_EXPORT_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Import a subscription bundle written by `export`; its slug must be free here.
    Import {
        /// The bundle file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// File holding the passphrase (default: AUTH_EXPORT_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Move a subscription's data from the shared database into a dedicated one, then
    /// point it there (stop writes for it first; see docs/operations.md).
    MoveDatabase {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// The dedicated database (postgres://, postgresql:// or sqlite:); migrated first,
        /// it must not hold this subscription yet.
        #[arg(long)]
        database_url: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Create a confidential client; prints its id and secret (once).
    Create {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Grant types (repeat or comma-separate): authorization_code, refresh_token, client_credentials.
        #[arg(long, value_delimiter = ',', default_value = "client_credentials")]
        grant_types: Vec<String>,
        /// Scopes the client may ask for (space-separated).
        #[arg(long, default_value = "")]
        scope: String,
        /// Redirect URIs (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        redirect_uri: Vec<String>,
        /// Allowed to call /introspect.
        #[arg(long)]
        introspection: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from AUTH_NEW_USER_PASSWORD (never an argument,
    /// which would land in shell history and process listings).
    Create {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// Make the user an administrator of the subscription.
        #[arg(long)]
        subscription_admin: bool,
    },
}

fn help_footer() -> String {
    format!(
        "Environment variables (also settable in the --config file):\n{}",
        Settings::help_table()
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("auth-server: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    let log_to = if matches!(command, Command::Serve) {
        auth_server::telemetry::LogTo::Stdout
    } else {
        auth_server::telemetry::LogTo::Stderr
    };
    auth_server::telemetry::init(&settings.log, settings.log_json, log_to);
    match run(command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auth-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let actor = Actor {
        user_id: None,
        client_id: Some("cli".into()),
        act: None,
        request_id: None,
        ip: None,
    };
    match command {
        Command::Serve => {
            let app = Application::build(settings, BuildOptions::default()).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            connect_store(&settings).await?;
            println!("migrations applied");
        }
        Command::Keys {
            command: KeysCommand::Rotate { subscription },
        } => {
            let ctx = build_ctx(settings, &BuildOptions::default()).await?;
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let active = keys::rotate(&ctx, &sub.id, &actor).await?;
            println!("rotated; active keys: {}", active.join(", "));
        }
        Command::Backup { out } => {
            let store = connect_store(&settings).await?;
            store.backup_sqlite(&out).await?;
            println!("backup written to {}", out.display());
        }
        Command::Restore { from } => {
            auth_server::store::backup::restore_sqlite(&settings.effective_database_url(), &from)?;
            println!(
                "restored {}; start the server to apply pending migrations",
                from.display()
            );
        }
        Command::Audit { command } => audit(command, settings).await?,
        Command::Admin { command } => admin(command, settings, &actor).await?,
    }
    Ok(())
}

async fn audit(command: AuditCommand, settings: Settings) -> anyhow::Result<()> {
    use auth_server::service::audit::{self, Verification};
    let ctx = build_ctx(settings, &BuildOptions::default()).await?;
    match command {
        AuditCommand::Verify { subscription } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            match audit::verify(&ctx, &sub.id).await? {
                Verification::Intact { events } => println!("audit chain intact: {events} events"),
                Verification::Broken { seq, id, reason } => {
                    anyhow::bail!("audit chain broken at event {seq} ({id}): {reason}")
                }
            }
        }
        AuditCommand::Export {
            subscription,
            since,
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let mut out = std::io::stdout().lock();
            audit::export(&ctx, &sub.id, since, None, &mut out).await?;
        }
        AuditCommand::Prune {
            subscription,
            older_than_days,
            export_to,
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let days = older_than_days
                .or(sub.settings.audit_retention_days)
                .ok_or_else(|| anyhow::anyhow!("--older-than-days is required: subscription {subscription} has no audit_retention_days"))?;
            let before = ctx.now() - i64::from(days) * 86_400;
            let mut file = std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&export_to)?;
            let n = audit::prune(&ctx, &sub.id, before, &mut file).await?;
            println!("exported and pruned {n} events to {}", export_to.display());
        }
    }
    Ok(())
}

async fn admin(command: AdminCommand, settings: Settings, actor: &Actor) -> anyhow::Result<()> {
    let ctx = build_ctx(settings, &BuildOptions::default()).await?;
    match command {
        AdminCommand::Subscription {
            command:
                SubscriptionCommand::Create {
                    slug,
                    name,
                    database_url,
                },
        } => {
            let database_url = database_url.map(secrecy::SecretString::from);
            let created = tenants::create(
                &ctx,
                Slug::parse(&slug, "--slug")?,
                &name,
                database_url.as_ref(),
                actor,
            )
            .await?;
            println!(
                "issuer: {}",
                ctx.settings.issuer(created.subscription.slug.as_str())
            );
            println!("mcp client_id: {}", created.mcp_client_id);
            println!(
                "mcp client_secret: {} (shown once)",
                created.mcp_client_secret
            );
        }
        AdminCommand::Subscription {
            command:
                SubscriptionCommand::Export {
                    subscription,
                    out,
                    passphrase_file,
                },
        } => {
            let summary = transfer::export_to_file(
                &ctx,
                &subscription,
                &out,
                passphrase_file.as_deref(),
                actor,
            )
            .await?;
            println!("exported {summary} to {}", out.display());
        }
        AdminCommand::Subscription {
            command:
                SubscriptionCommand::Import {
                    from,
                    passphrase_file,
                },
        } => {
            let imported =
                transfer::import_from_file(&ctx, &from, passphrase_file.as_deref(), actor).await?;
            println!("{imported}");
        }
        AdminCommand::Subscription {
            command:
                SubscriptionCommand::MoveDatabase {
                    subscription,
                    database_url,
                },
        } => {
            let url = secrecy::SecretString::from(database_url);
            // Other instances learn the new route within ROUTE_TTL; the shared rows are
            // deleted only after that (plus a margin).
            let settle = auth_server::store::routing::ROUTE_TTL + std::time::Duration::from_secs(1);
            let moved =
                transfer::dedicated::move_database(&ctx, &subscription, &url, settle, actor)
                    .await?;
            let total: u64 = moved.rows.values().sum();
            println!("moved subscription {subscription} ({total} rows) to its dedicated database");
        }
        AdminCommand::Client {
            command:
                ClientCommand::Create {
                    subscription,
                    name,
                    grant_types,
                    scope,
                    redirect_uri,
                    introspection,
                },
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let grant_types = grant_types
                .iter()
                .map(|g| {
                    GrantType::parse(g)
                        .ok_or_else(|| anyhow::anyhow!("--grant-types: unknown grant type {g:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let redirect_uris = redirect_uri
                .iter()
                .map(|u| auth_server::domain::RedirectUri::parse(u, "--redirect-uri"))
                .collect::<Result<Vec<_>, _>>()?;
            let spec = ClientSpec {
                redirect_uris,
                post_logout_redirect_uris: Vec::new(),
                grant_types,
                scope: Scope::parse(&scope)?,
                auth_method: AuthMethod::ClientSecretBasic,
                access_token_format: TokenFormat::Jwt,
                access_token_signing_alg: "ES256".into(),
                id_token_signed_response_alg: "RS256".into(),
                introspection,
                audience: Vec::new(),
                allowed_resources: Vec::new(),
                skip_consent: false,
                jwks: None,
            };
            let new = clients::NewClient {
                client_id: None,
                secret: None,
                name,
                spec,
                ai_access: false,
            };
            let (client, secret) = clients::create(&ctx, &sub.id, new, actor).await?;
            println!("client_id: {}", client.client_id);
            println!("client_secret: {} (shown once)", secret.unwrap_or_default());
        }
        AdminCommand::User {
            command:
                UserCommand::Create {
                    subscription,
                    username,
                    subscription_admin,
                },
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let password = std::env::var("AUTH_NEW_USER_PASSWORD").ok();
            let new = users::NewUser {
                username: Username::parse(&username)?,
                password,
                email: None,
                name: None,
                attributes: Default::default(),
                system_admin: false,
                subscription_admin,
            };
            let user = users::create(&ctx, &sub.id, new, actor).await?;
            println!("user id (sub): {}", user.id);
        }
    }
    Ok(())
}
