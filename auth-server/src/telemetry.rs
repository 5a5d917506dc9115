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
/// Built with the `otel` feature and with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are
/// also exported as OpenTelemetry traces (see [`otel`]).
pub fn init(filter: &str, json: bool, to: LogTo) {
    #[cfg(feature = "otel")]
    if otel::init(filter, json, to) {
        return;
    }
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

/// OpenTelemetry traces (cargo feature `otel`, off by default): every `tracing` span (the
/// per-request span with its request id, method and path, and the spans inside it)
/// becomes an OpenTelemetry span, exported in batches over OTLP/HTTP (protobuf) to
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://collector:4318`; the exporter reads that
/// variable and the other standard `OTEL_EXPORTER_OTLP_*` ones itself. The service name
/// is `auth-server` unless `OTEL_SERVICE_NAME` says otherwise. Spans carry the same
/// fields as the logs, which never hold a secret.
#[cfg(feature = "otel")]
pub mod otel {
    use super::LogTo;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer, Registry};

    /// The exporting tracer provider, or why it could not be built.
    fn provider() -> Result<opentelemetry_sdk::trace::SdkTracerProvider, String> {
        // Built on a thread of its own: the blocking HTTP client starts (and would drop)
        // a runtime of its own, which tokio refuses inside an async context.
        let exporter = std::thread::spawn(|| {
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "the exporter thread panicked".to_owned())??;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("auth-server")
            .build();
        Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }

    /// Logs plus trace export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; `false` (nothing
    /// installed) otherwise, and the plain log setup runs.
    pub fn init(filter: &str, json: bool, to: LogTo) -> bool {
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none_or(|v| v.is_empty()) {
            return false;
        }
        let provider = match provider() {
            Ok(p) => p,
            Err(e) => {
                eprintln!(
                    "auth-server: OTEL_EXPORTER_OTLP_ENDPOINT: cannot export traces ({e}); logging only"
                );
                return false;
            }
        };
        let tracer = provider.tracer("auth-server");
        opentelemetry::global::set_tracer_provider(provider);
        let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let fmt = tracing_subscriber::fmt::layer().with_target(false);
        let fmt: Box<dyn Layer<Registry> + Send + Sync> = match (json, to) {
            (true, LogTo::Stdout) => fmt.json().boxed(),
            (false, LogTo::Stdout) => fmt.boxed(),
            (true, LogTo::Stderr) => fmt.json().with_writer(std::io::stderr).boxed(),
            (false, LogTo::Stderr) => fmt.with_writer(std::io::stderr).boxed(),
        };
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(filter)
            .try_init();
        true
    }
}
