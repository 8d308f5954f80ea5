//! The `portcullis` command line; everything it runs lives in the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// The proxy path is allocation-heavy (headers, buffers); glibc malloc was ~13% of its CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An authentication gateway on Pingora"
)]
struct Cli {
    /// The YAML config file.
    #[arg(long, global = true, default_value = "config/portcullis.yaml")]
    config: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway.
    Serve,
    /// Validate the config file and list every problem.
    CheckConfig,
    /// Manage users in the config's database.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "user")]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.cmd {
        Cmd::Serve => portcullis::app::serve(&cli.config),
        Cmd::CheckConfig => {
            return if portcullis::cli::check_config(&cli.config) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::User {
            cmd:
                UserCmd::Add {
                    email,
                    name,
                    role,
                    password_stdin,
                },
        } => portcullis::cli::user_add(&cli.config, &email, &name, &role, password_stdin),
        Cmd::User { cmd: UserCmd::List } => portcullis::cli::user_list(&cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
