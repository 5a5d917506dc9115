//! Structured logs with a request id per request. Secrets and tokens are never logged:
//! handlers log reasons, not values.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    /// Standard output: the server, whose stdout is only its log.
    Stdout,
    /// Standard error: one-shot commands, whose stdout is their result (`audit export`
    /// JSON lines piped to a SIEM, a client secret piped to a secret store), which log
    /// lines would corrupt.
    Stderr,
}

/// Install the global subscriber (the binary only; tests opt in with `TEST_LOG=1`).
pub fn init(filter: &str, json: bool, to: LogTo) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_target(false);
    let _ = match (json, to) {
        (true, LogTo::Stdout) => builder.json().try_init(),
        (false, LogTo::Stdout) => builder.try_init(),
        (true, LogTo::Stderr) => builder.json().with_writer(std::io::stderr).try_init(),
        (false, LogTo::Stderr) => builder.with_writer(std::io::stderr).try_init(),
    };
}
