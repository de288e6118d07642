//! Test helper: creates many empty nodes in a stopped Herald's data
//! directory in one commit, far faster than one create IQ each (the
//! 100,000-node disco#items test in tests/integration/test_output_limits.py).
//!
//!     cargo run --example fill_nodes -- DATA_DIR PREFIX COUNT

use herald::pubsub::{Actor, NodeName, Service, ServiceSettings};
use herald::store::SledStore;
use std::path::PathBuf;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, prefix, count] = args.as_slice() else {
        return Err("usage: fill_nodes DATA_DIR PREFIX COUNT".into());
    };
    let count: usize = count.parse().map_err(|e| format!("COUNT: {e}"))?;
    let store = SledStore::open(&PathBuf::from(dir)).map_err(|e| e.to_string())?;
    let mut service =
        Service::open(store, ServiceSettings::default()).map_err(|e| e.to_string())?;
    let width = count.to_string().len();
    for i in 0..count {
        let name = format!("{prefix}{i:0width$}");
        let node = NodeName::new(name.as_str()).map_err(|e| format!("{name}: {e}"))?;
        let _created = service
            .create_node(&Actor::System, Some(&node), None)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    service.flush().map_err(|e| e.to_string())?;
    println!("{count}");
    Ok(())
}
