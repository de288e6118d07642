//! Test support: a real 3-server `nats-server` cluster on loopback, started
//! by the tests themselves (temporary directories, free ports) and stopped
//! by PID; and a runner that gives each conformance case a fresh store.

use super::NatsCredentials;
use super::{JetStreamSettings, JetStreamStore};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Three JetStream servers in one cluster; killed (by PID) when dropped.
pub struct Cluster {
    pub servers: Vec<Server>,
    pub urls: Vec<String>,
    _dir: tempfile::TempDir,
}

pub struct Server {
    pub child: Child,
    pub client_port: u16,
    pub name: String,
    config: PathBuf,
}

/// `nats-server` from `HERALD_NATS_SERVER`, `PATH` or `/usr/sbin`.
pub fn nats_server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("HERALD_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server not found (PATH, /usr/sbin, HERALD_NATS_SERVER): the JetStream \
                 store tests need it; install it with `apt-get install nats-server` \
                 (scripts/test.sh does)"
            )
        })
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Cluster {
    pub fn start() -> Cluster {
        let bin = nats_server_binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let client: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes = route
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::new();
        for i in 0..3 {
            let name = format!("n{}", i + 1);
            let config = dir.path().join(format!("{name}.conf"));
            let store = dir.path().join(&name);
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: \"127.0.0.1:{}\"\n\
                     jetstream {{ store_dir: {:?} }}\n\
                     cluster {{ name: herald-test\n listen: \"127.0.0.1:{}\"\n routes: [{routes}] }}\n",
                    client[i],
                    store.display().to_string(),
                    route[i]
                ),
            )
            .expect("write nats config");
            let child = spawn(&bin, &config, dir.path().join(format!("{name}.log")));
            servers.push(Server {
                child,
                client_port: client[i],
                name,
                config,
            });
        }
        for s in &servers {
            wait_for_port(s.client_port);
        }
        Cluster {
            urls: client
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect(),
            servers,
            _dir: dir,
        }
    }

    /// SIGKILL of one server (by its PID), then a restart with its data.
    pub fn kill(&mut self, i: usize) {
        let s = &mut self.servers[i];
        let _ = s.child.kill();
        let _ = s.child.wait();
    }

    pub fn restart(&mut self, i: usize) {
        let bin = nats_server_binary();
        let s = &mut self.servers[i];
        let log = s.config.with_extension("restart.log");
        s.child = spawn(&bin, &s.config, log);
        wait_for_port(s.client_port);
    }
}

fn spawn(bin: &PathBuf, config: &PathBuf, log: PathBuf) -> Child {
    let log = std::fs::File::create(log).expect("nats log file");
    Command::new(bin)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start nats-server")
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

/// One cluster shared by the tests running at the same time in this
/// process; the last one to finish stops it.
pub fn shared_cluster() -> Arc<Cluster> {
    static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = slot.upgrade() {
        return c;
    }
    let c = Arc::new(Cluster::start());
    *slot = Arc::downgrade(&c);
    c
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A store with a prefix of its own on `urls`; retried while the cluster
/// elects its meta leader.
pub fn store(rt: &tokio::runtime::Runtime, urls: &[String], partitions: u32) -> JetStreamStore {
    static N: AtomicU64 = AtomicU64::new(0);
    let prefix = format!(
        "t{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let settings = JetStreamSettings {
        servers: urls.to_vec(),
        replicas: 3,
        partitions,
        stream_prefix: prefix,
        credentials: NatsCredentials::None,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rt.block_on(JetStreamStore::connect(
            settings.clone(),
            rt.handle().clone(),
        )) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("cluster not ready yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("JetStream cluster never became ready: {e}"),
        }
    }
}

/// Runs each named case on a fresh store of a shared 3-server cluster.
/// A named conformance case.
pub type Case<'a> = (&'a str, fn(&mut JetStreamStore));

pub fn run_cases(cases: &[Case]) {
    let cluster = shared_cluster();
    let rt = runtime();
    for (name, case) in cases {
        eprintln!("jetstream conformance case: {name}");
        let mut s = store(&rt, &cluster.urls, 2);
        case(&mut s);
        s.destroy().expect("delete the case's streams");
    }
}
