//! The `auth-server` binary: parse the command line and hand it to [`auth_server::cli`],
//! which serves, migrates, and administers (see `docs/console.md`, "Command line").

use auth_server::cli::Cli;
use clap::Parser;
use std::process::ExitCode;

// glibc's allocator spent about a quarter of the server's CPU under load (fastbin
// consolidation on every large free); mimalloc's per-thread free lists do not. It is
// built without transparent huge pages (feature `no_thp`): with them its arena is backed
// by 2 MiB pages from the first byte used in each, which kept 45 MiB of an idle server
// resident (docs/performance.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    auth_server::cli::main(Cli::parse()).await
}
