use std::process::ExitCode;

use clap::Parser;

mod allocator;

#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

fn main() -> ExitCode {
    let cli = webhook_dev::cli::Cli::parse();
    let args: Vec<String> = std::env::args().collect();
    for warning in webhook_dev::secrets::command_line_warnings(&args) {
        eprintln!("webhook-dev: warning: {warning}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEBHOOK_DEV_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match webhook_dev::runtime(&cli) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("webhook-dev: cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(webhook_dev::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("webhook-dev: {err:#}");
            webhook_dev::exit::code(&err)
        }
    }
}
