//! What every example's `main` does: its command line read with clap (`--help` answers, a
//! mistake is one line and exit status 2), logs to stderr (stdout may carry the protocol), and a
//! failure printed as one line with a non-zero exit code.

use std::future::Future;
use std::process::ExitCode;

use clap::Parser;

/// The command line as `T`, or, on `--help`/`--version`, that text printed and exit 0; on a
/// mistake, one line on stderr (`name: error: ...`, without clap's usage and tips) and exit 2.
pub(crate) fn parse<T: Parser>(name: &str) -> T {
    match T::try_parse() {
        Ok(options) => options,
        Err(error) if !error.use_stderr() => {
            // `--help` or `--version`.
            let _ = error.print();
            std::process::exit(0);
        }
        Err(error) => {
            // clap's message is its first paragraph (a missing argument is named on the next
            // line); usage and tips follow a blank line.
            let rendered = error.to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("{name}: {message} (see --help)");
            std::process::exit(2);
        }
    }
}

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
