//! What every example's `main` does: logs to stderr (stdout may carry the protocol), and a
//! failure printed as one line with a non-zero exit code.

use std::future::Future;
use std::process::ExitCode;

/// Runs `program` after setting up logging (`RUST_LOG`, default `info`).
pub(crate) async fn main<F>(name: &str, program: F) -> ExitCode
where
    F: Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match program.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}
