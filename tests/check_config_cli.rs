//! `herald check-config` as an operator runs it: every problem of a file in
//! one run (three here, two of them in one `[relay]` room), exit code 2,
//! and nothing created on disk, not even the data directory.

use std::path::Path;
use std::process::Command;

fn check_config(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["check-config", "--config"])
        .arg(config)
        .env_remove("HERALD_COMPONENT_SECRET")
        .output()
        .unwrap()
}

#[test]
fn check_config_lists_every_problem_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("not-yet").join("data");
    let path = dir.path().join("herald.toml");
    std::fs::write(
        &path,
        format!(
            "[component]\njid = \"events.localhost\"\nsecret = \"s\"\nconnections = 0\n\
             [storage]\ndata_dir = {:?}\n\
             [[relay.rooms]]\nroom = \"not-a-room\"\nnick = \"herald\"\nnodes = [\"apps?\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let out = check_config(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("(3 problems)"), "{stderr}");
    for says in [
        "component.connections",
        "relay.rooms \"not-a-room\": the room must be a bare JID",
        "relay.rooms \"not-a-room\": node pattern \"apps?\"",
    ] {
        assert!(stderr.contains(says), "{says:?} missing from {stderr}");
    }
    assert!(
        !dir.path().join("not-yet").exists(),
        "check-config created a directory"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "check-config wrote files: {left:?}");

    // The same file, fixed, passes and still creates nothing.
    std::fs::write(
        &path,
        format!(
            "[component]\njid = \"events.localhost\"\nsecret = \"s\"\n\
             [storage]\ndata_dir = {:?}\n\
             [[relay.rooms]]\nroom = \"ops@conference.localhost\"\nnick = \"herald\"\n\
             nodes = [\"apps*\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let out = check_config(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("not-yet").exists());
}
