//! herald-bench: one publisher and K subscribers over real c2s connections
//! against any XEP-0060 service JID; prints one JSON object per run.

mod audience;
mod catchup;
mod client;
mod publish;
mod raw;
mod stats;
mod xml;

use clap::{Parser, ValueEnum};
use serde_json::json;

#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    /// Publish throughput with `--inflight` publishes outstanding.
    Publish,
    /// A subscriber pages through `--items` missed items.
    Catchup,
    /// A bare component connection sends notifications straight to
    /// `--subscribers` c2s clients: per recipient, then multicast.
    Raw,
    /// `--audience` subscribed bare JIDs, `--subscribers` of them online,
    /// `--items` publishes one at a time.
    Audience,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    workload: Workload,
    /// The pubsub service JID (events.localhost, pubsub.localhost, ...).
    #[arg(long)]
    service: String,
    #[arg(long, default_value = "127.0.0.1:5222")]
    c2s: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    #[arg(long, default_value_t = 200)]
    payload: usize,
    #[arg(long, default_value_t = 1000)]
    page: usize,
    /// `name=pid` of a server process whose CPU time to report (repeatable).
    #[arg(long)]
    cpu: Vec<String>,
    /// Label of this run (node names include it).
    #[arg(long, default_value = "run")]
    run_id: String,
    /// Raw workload: the XEP-0114 listener and this component's JID/secret.
    #[arg(long, default_value = "127.0.0.1:5347")]
    component_addr: String,
    #[arg(long, default_value = "rawbench.localhost")]
    component_jid: String,
    #[arg(long, default_value = "herald-dev-secret")]
    secret: String,
    #[arg(long, default_value = "multicast.localhost")]
    multicast_jid: String,
    /// Bcc addresses per multicast stanza (raw workload).
    #[arg(long, default_value_t = 20)]
    multicast_batch: usize,
    /// Audience workload: subscribed bare JIDs in all (online included).
    #[arg(long, default_value_t = 100_000)]
    audience: usize,
    /// Audience workload: use this node name (default: from the run id).
    #[arg(long)]
    node: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let setup = publish::Setup {
        c2s: args.c2s.clone(),
        domain: args.domain.clone(),
        service: args.service.clone(),
        items: args.items,
        inflight: args.inflight,
        subscribers: args.subscribers,
        payload_bytes: args.payload,
        run_id: args.run_id.clone(),
    };
    let cpu_before = cpu_times(&args.cpu);
    let result = match args.workload {
        Workload::Publish => publish::run(&setup).await,
        Workload::Catchup => catchup::run(&setup, args.page).await,
        Workload::Raw => {
            let raw = raw::RawSetup {
                c2s: args.c2s.clone(),
                domain: args.domain.clone(),
                component_addr: args.component_addr.clone(),
                component_jid: args.component_jid.clone(),
                secret: args.secret.clone(),
                multicast_jid: args.multicast_jid.clone(),
                multicast_batch: args.multicast_batch,
                items: args.items,
                subscribers: args.subscribers,
                payload_bytes: args.payload,
            };
            raw::run(&raw).await
        }
        Workload::Audience => audience::run(&setup, args.audience, args.node.as_deref()).await,
    };
    let cpu_after = cpu_times(&args.cpu);
    match result {
        Ok(mut v) => {
            let cpu: serde_json::Map<_, _> = cpu_before
                .iter()
                .zip(&cpu_after)
                .map(|((name, a), (_, b))| (name.clone(), json!(b - a)))
                .collect();
            v["service"] = json!(args.service);
            v["cpu_seconds"] = json!(cpu);
            println!("{v}");
        }
        Err(e) => {
            eprintln!("herald-bench: {e}");
            std::process::exit(1);
        }
    }
}

/// utime + stime of each `name=pid`, in seconds (Linux /proc).
fn cpu_times(specs: &[String]) -> Vec<(String, f64)> {
    specs
        .iter()
        .filter_map(|s| {
            let (name, pid) = s.split_once('=')?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some((name.to_owned(), ticks / 100.0))
        })
        .collect()
}
