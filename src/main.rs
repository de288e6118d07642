//! The `herald` command: run the service, check a config, publish an event.

use clap::{Parser, Subcommand};
use herald::config::{Config, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    version,
    about = "Durable XEP-0060 pubsub for platform events, as an XMPP component"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to ejabberd and serve pubsub until SIGTERM or ctrl-c.
    Run {
        #[arg(short, long, default_value = "herald.toml")]
        config: PathBuf,
    },
    /// Validate a config file and report every problem found.
    CheckConfig {
        #[arg(short, long, default_value = "herald.toml")]
        config: PathBuf,
    },
    /// Publish an event to a running Herald over HTTP and print its answer.
    Publish(PublishArgs),
    /// List the nodes (needs a token with the `admin` scope).
    Nodes(ConsoleArgs),
    /// Show one node: counts, subscribers, configuration (`admin` scope).
    Node {
        /// The node.
        name: String,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// List the consumer groups with their backlog (`admin` scope).
    Groups(ConsoleArgs),
    /// Long operations (purge, delete, replay): running, then the last
    /// finished (`admin` scope).
    Operations(ConsoleArgs),
    /// List a node's dead letters, or resend one (`admin` scope).
    DeadLetters {
        /// The node whose consumer groups dead-lettered the items.
        node: String,
        /// Publish this dead-lettered item again and drop its dead letter.
        #[arg(long)]
        resend: Option<String>,
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Print a node's events as they are published (`read` scope).
    Tail {
        /// The node.
        name: String,
        /// Start after this event (an `id` printed earlier) instead of now.
        #[arg(long)]
        last_event_id: Option<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        #[command(flatten)]
        console: ConsoleArgs,
    },
}

/// Where the running Herald is and the token to ask it with.
#[derive(clap::Args)]
struct ConsoleArgs {
    /// Herald's HTTP address [default: $HERALD_URL or http://127.0.0.1:8080].
    #[arg(long)]
    url: Option<String>,
    /// Bearer token [default: $HERALD_TOKEN].
    #[arg(long)]
    token: Option<String>,
    /// The API's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct PublishArgs {
    /// The node to publish to.
    #[arg(long)]
    node: String,
    /// Item ID (PUT, idempotent); without it Herald assigns one (POST).
    #[arg(long)]
    id: Option<String>,
    /// Herald's HTTP address [default: $HERALD_URL or http://127.0.0.1:8080].
    #[arg(long)]
    url: Option<String>,
    /// Bearer token [default: $HERALD_TOKEN].
    #[arg(long)]
    token: Option<String>,
    /// application/json, application/cloudevents+json or application/xml
    /// (with --batch: application/json or application/cloudevents-batch+json).
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// Idempotency-Key header, making a retried POST safe.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// The body is a batch (all-or-nothing).
    #[arg(long, conflicts_with = "id")]
    batch: bool,
    /// The body: a file, or `-` (default) for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // No side effects: the data directory is checked, not created.
        Command::CheckConfig { config } => match Config::check_file(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run { config } => run(&config),
        Command::Publish(args) => publish(args),
        Command::Nodes(c) => console(c, |t, json| {
            Box::pin(async move {
                herald::ingest::console_cli::nodes(&t, json)
                    .await
                    .map(|s| print!("{s}"))
            })
        }),
        Command::Node { name, console: c } => console(c, move |t, json| {
            Box::pin(async move {
                herald::ingest::console_cli::node(&t, &name, json)
                    .await
                    .map(|s| print!("{s}"))
            })
        }),
        Command::Groups(c) => console(c, |t, json| {
            Box::pin(async move {
                herald::ingest::console_cli::groups(&t, json)
                    .await
                    .map(|s| print!("{s}"))
            })
        }),
        Command::Operations(c) => console(c, |t, json| {
            Box::pin(async move {
                herald::ingest::console_cli::operations(&t, json)
                    .await
                    .map(|s| print!("{s}"))
            })
        }),
        Command::DeadLetters {
            node,
            resend,
            console: c,
        } => console(c, move |t, json| {
            Box::pin(async move {
                herald::ingest::console_cli::dead_letters(&t, &node, resend.as_deref(), json)
                    .await
                    .map(|s| print!("{s}"))
            })
        }),
        Command::Tail {
            name,
            last_event_id,
            count,
            console: c,
        } => console(c, move |t, json| {
            Box::pin(async move {
                let print = |line: &str| {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                };
                herald::ingest::console_cli::tail(
                    &t,
                    &name,
                    last_event_id.as_deref(),
                    count,
                    json,
                    print,
                )
                .await
            })
        }),
    }
}

type ConsoleFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), herald::ingest::console_cli::CliError>>>,
>;

/// Runs one console command against `$HERALD_URL` with `$HERALD_TOKEN`.
fn console(
    args: ConsoleArgs,
    run: impl FnOnce(herald::ingest::console_cli::Target, bool) -> ConsoleFuture,
) -> ExitCode {
    let url = (args.url.or_else(|| std::env::var("HERALD_URL").ok()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let Some(token) = args.token.or_else(|| std::env::var("HERALD_TOKEN").ok()) else {
        eprintln!("error: no token: pass --token or set HERALD_TOKEN");
        return ExitCode::from(2);
    };
    let Some(runtime) = client_runtime() else {
        return ExitCode::FAILURE;
    };
    let target = herald::ingest::console_cli::Target { url, token };
    match runtime.block_on(run(target, args.json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The one-thread runtime of the HTTP client commands (`None`, said on
/// stderr, if it cannot start).
fn client_runtime() -> Option<tokio::runtime::Runtime> {
    let built = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    built
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

fn publish(args: PublishArgs) -> ExitCode {
    use herald::ingest::client;
    let body = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
    } else {
        std::fs::read(&args.file)
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let url = (args.url.or_else(|| std::env::var("HERALD_URL").ok()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let Some(token) = args.token.or_else(|| std::env::var("HERALD_TOKEN").ok()) else {
        eprintln!("error: no token: pass --token or set HERALD_TOKEN");
        return ExitCode::from(2);
    };
    let node = client::encode_segment(&args.node);
    let (method, path) = match (&args.id, args.batch) {
        (Some(id), _) => (
            "PUT",
            format!("/v1/nodes/{node}/items/{}", client::encode_segment(id)),
        ),
        (None, true) => ("POST", format!("/v1/nodes/{node}/items:batch")),
        (None, false) => ("POST", format!("/v1/nodes/{node}/items")),
    };
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", args.content_type.as_str()),
    ];
    if let Some(key) = &args.idempotency_key {
        headers.push(("Idempotency-Key", key.as_str()));
    }
    let Some(runtime) = client_runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(client::request(method, &url, &path, &headers, &body)) {
        Ok(resp) if (200..300).contains(&resp.status) => {
            print!("{}", resp.body);
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            let message = serde_json::from_str::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| resp.body.trim().to_owned());
            eprintln!("error: HTTP {}: {message}", resp.status);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.log.format);
    herald::protocol::xml::set_payload_limits(herald::protocol::xml::XmlLimits {
        max_depth: config.limits.max_payload_depth,
        max_elements: config.limits.max_payload_elements,
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            let _ = stop_tx.send(true);
        });
        match herald::app::run(config, stop_rx).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "herald stopped with an error");
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HERALD_LOG")
        .or_else(|_| EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
