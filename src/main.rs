//! The `portcullis` command line; everything it runs lives in the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

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
    /// Log lines as JSON objects (one per line) instead of text.
    #[arg(long, global = true, env = "PORTCULLIS_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway. SIGHUP reloads the config; SIGTERM finishes requests in flight and
    /// stops.
    Serve {
        /// Take over the listening sockets of the instance already running on this config
        /// (send it SIGQUIT after starting this one): a restart that drops no connection.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate the config file and list every problem.
    CheckConfig,
    /// Ask the running gateway's admin listener whether it is up (`/healthz`): a container's
    /// health check, with nothing but this binary in the image.
    Health,
    /// What the gateway does with a request and which check decided, by the proxy's own
    /// decision functions, e.g. `explain GET /admin/users --role user -H 'Accept: text/html'`.
    Explain {
        /// The HTTP method.
        method: String,
        /// The request target as a client sends it: a path, or a full URL (absolute-form).
        url: String,
        /// As a signed-in user with this role (default `user` when --email, --group or
        /// --mfa describe the caller).
        #[arg(long, conflicts_with = "token")]
        role: Option<String>,
        /// As a signed-in user with this (proven) address.
        #[arg(long, conflicts_with = "token")]
        email: Option<String>,
        /// As a signed-in user in this group (repeatable).
        #[arg(long = "group", conflicts_with = "token")]
        groups: Vec<String>,
        /// As a signed-in user whose sign-in used a second factor.
        #[arg(long, conflicts_with = "token")]
        mfa: bool,
        /// As the bearer of this token (checked against the config's keys and database).
        #[arg(long)]
        token: Option<String>,
        /// The client's address, as the gateway derives it (policies' `networks`).
        #[arg(long)]
        ip: Option<String>,
        /// When, in RFC 3339 (policies' `time`; default now).
        #[arg(long)]
        at: Option<String>,
        /// A request header, `Name: value` (repeatable): `Accept`, `Origin`, `Sec-Fetch-*`,
        /// `Host`, `Cookie` take part in the decision.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the config an edge proxy needs to ask this gateway about every request
    /// (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth, Envoy ext_authz), from
    /// the config's identity headers, check paths, listen address and trusted proxies.
    EdgeConfig {
        /// nginx, caddy, traefik or envoy.
        edge: portcullis::edge_config::Edge,
        /// Where the edge listens.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: std::net::SocketAddr,
        /// The app behind the edge, host:port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        app: String,
    },
    /// Manage users in the config's database.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// The OpenID provider.
    Oidc {
        #[command(subcommand)]
        cmd: OidcCmd,
    },
}

#[derive(Subcommand)]
enum OidcCmd {
    /// Start signing with a new key (of `oidc_provider.signing`); the old one stays in the
    /// JWKS until every token it signed has expired. Running gateways switch within a second.
    RotateKey,
    /// Print the argon2 hash of a client secret read from standard input, for a client's
    /// `secret_hash` (the secret itself then lives nowhere in the config).
    HashSecret,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the trail's hash chain: exits 0 when it holds, 1 naming the first event that
    /// breaks it.
    Verify,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create an API key for a user (a service account, say); prints the key once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// A scope the key holds (repeat for more).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// How long it works, e.g. 90d (default: until revoked).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List a user's live keys (never their secrets).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a key by id: running gateways refuse it within a second.
    Revoke { id: String },
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
        /// A group the admin puts the user in (repeat for more).
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a user's groups and where each comes from; with --set (repeatable) or --clear,
    /// replace the local ones first (groups from identity providers stay).
    Groups {
        email: String,
        #[arg(long = "set", conflicts_with = "clear")]
        set: Vec<String>,
        #[arg(long)]
        clear: bool,
    },
    /// List users.
    List,
    /// Remove every second factor of a user (TOTP, recovery codes, passkeys) and end their
    /// sessions: for someone who lost their authenticator.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server's log lines (one per request) go out in batches; a command's go out at once.
    let (writer, flush) = match cli.cmd {
        Cmd::Serve { .. } => (
            BoxMakeWriter::new(portcullis::logbuf::Batched),
            Some(portcullis::logbuf::start()),
        ),
        _ => (BoxMakeWriter::new(std::io::stderr), None),
    };
    // Colour only for a person at a terminal, never into files or pipes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(writer)
        .with_ansi(ansi);
    if cli.log_json {
        logs.json().flatten_event(true).init();
    } else {
        // A server's access lines to the batched writer skip tracing's event machinery.
        if flush.is_some() && !ansi {
            portcullis::access_line::write_directly();
        }
        logs.event_format(portcullis::logfmt::Text::default())
            .init();
    }
    let result = match cli.cmd {
        Cmd::Serve { upgrade } => {
            portcullis::app::serve(&cli.config, upgrade).map_err(anyhow::Error::from)
        }
        Cmd::Health => portcullis::cli::health(&cli.config),
        Cmd::EdgeConfig { edge, listen, app } => portcullis::cli::edge_config(
            &cli.config,
            edge,
            &portcullis::edge_config::Site { listen, app },
        ),
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
                    groups,
                    password_stdin,
                },
        } => portcullis::cli::user_add(&cli.config, &email, &name, &role, &groups, password_stdin),
        Cmd::User {
            cmd: UserCmd::Groups { email, set, clear },
        } => portcullis::cli::user_groups(
            &cli.config,
            &email,
            (clear || !set.is_empty()).then_some(set.as_slice()),
        ),
        Cmd::User { cmd: UserCmd::List } => portcullis::cli::user_list(&cli.config),
        Cmd::User {
            cmd: UserCmd::ResetMfa { email },
        } => portcullis::cli::user_reset_mfa(&cli.config, &email),
        Cmd::Key {
            cmd:
                KeyCmd::Create {
                    user,
                    name,
                    scopes,
                    expires,
                },
        } => portcullis::cli::key_create(&cli.config, &user, &name, &scopes, expires.as_deref()),
        Cmd::Key {
            cmd: KeyCmd::List { user },
        } => portcullis::cli::key_list(&cli.config, &user),
        Cmd::Key {
            cmd: KeyCmd::Revoke { id },
        } => portcullis::cli::key_revoke(&cli.config, &id),
        Cmd::Oidc {
            cmd: OidcCmd::RotateKey,
        } => portcullis::cli::oidc_rotate_key(&cli.config),
        Cmd::Oidc {
            cmd: OidcCmd::HashSecret,
        } => {
            portcullis::cli::oidc_hash_secret(&mut std::io::stdin().lock()).map(|h| println!("{h}"))
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify,
        } => {
            return match portcullis::cli::audit_verify(&cli.config) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Explain {
            method,
            url,
            role,
            email,
            groups,
            mfa,
            token,
            ip,
            at,
            headers,
            json,
        } => portcullis::explain::cli(
            &cli.config,
            &portcullis::explain::CliArgs {
                method: &method,
                url: &url,
                headers: &headers,
                ip: ip.as_deref(),
                at: at.as_deref(),
                role: role.as_deref(),
                email: email.as_deref(),
                groups: &groups,
                mfa,
                token: token.as_deref(),
            },
        )
        .map_err(anyhow::Error::from)
        .map(|e| {
            if json {
                println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
            } else {
                print!("{}", portcullis::explain::render(&e));
            }
        }),
    };
    // Every buffered line before the last word.
    drop(flush);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
