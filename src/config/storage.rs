//! The `[storage]` backend choice and `[storage.jetstream]`: which store
//! holds the items (sled on this machine's disk, or a NATS JetStream
//! cluster), checked without side effects. Credentials come from the
//! environment only, never from the file.

use crate::store::NatsCredentials;
use serde::Deserialize;

/// `HERALD_NATS_USER` + `HERALD_NATS_PASSWORD`, or `HERALD_NATS_TOKEN`.
pub const NATS_USER_ENV: &str = "HERALD_NATS_USER";
pub const NATS_PASSWORD_ENV: &str = "HERALD_NATS_PASSWORD";
pub const NATS_TOKEN_ENV: &str = "HERALD_NATS_TOKEN";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded, one machine (the default).
    #[default]
    Sled,
    /// A replicated NATS JetStream cluster (`[storage.jetstream]`).
    Jetstream,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamConfig {
    /// NATS URLs (`nats://host:port` or `host:port`); any of them will do.
    pub servers: Vec<String>,
    /// Copies of every stream and bucket (JetStream allows 1..=5).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Streams the nodes are spread over (hash of the node mod this);
    /// fixed once data exists.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Prefix of every stream, bucket and subject Herald creates.
    #[serde(default = "default_stream_prefix")]
    pub stream_prefix: String,
}

fn default_replicas() -> usize {
    3
}
fn default_partitions() -> u32 {
    16
}
fn default_stream_prefix() -> String {
    "herald".into()
}

/// Reads the credentials from `var` (the environment in production).
pub fn nats_credentials(var: impl Fn(&str) -> Option<String>) -> Result<NatsCredentials, String> {
    match (
        var(NATS_USER_ENV),
        var(NATS_PASSWORD_ENV),
        var(NATS_TOKEN_ENV),
    ) {
        (None, None, None) => Ok(NatsCredentials::None),
        (Some(user), Some(password), None) => Ok(NatsCredentials::UserPassword { user, password }),
        (None, None, Some(t)) => Ok(NatsCredentials::Token(t)),
        (Some(_), None, _) | (None, Some(_), _) => Err(format!(
            "storage.jetstream: set both {NATS_USER_ENV} and {NATS_PASSWORD_ENV}, or neither"
        )),
        _ => Err(format!(
            "storage.jetstream: set {NATS_TOKEN_ENV} or a user and password, not both"
        )),
    }
}

impl JetStreamConfig {
    /// Every problem, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.servers.is_empty() {
            out.push("storage.jetstream.servers must list at least one NATS server".into());
        }
        for s in &self.servers {
            if let Err(why) = check_server(s) {
                out.push(format!("storage.jetstream.servers: {s:?} {why}"));
            }
        }
        if !(1..=5).contains(&self.replicas) {
            out.push("storage.jetstream.replicas must be between 1 and 5".into());
        }
        if !(1..=1024).contains(&self.partitions) {
            out.push("storage.jetstream.partitions must be between 1 and 1024".into());
        }
        let p = &self.stream_prefix;
        let ok = (1..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            out.push(
                "storage.jetstream.stream_prefix must be 1-32 characters of A-Z, a-z, 0-9, _ or -"
                    .into(),
            );
        }
        if let Err(e) = nats_credentials(|k| std::env::var(k).ok()) {
            out.push(e);
        }
        out
    }
}

/// `[nats://|tls://]host:port` with a port number.
fn check_server(s: &str) -> Result<(), &'static str> {
    let rest = ["nats://", "tls://"]
        .iter()
        .find_map(|scheme| s.strip_prefix(scheme))
        .unwrap_or(s);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err("must be host:port");
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err("has no valid host");
    }
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err("has no valid port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &[&str]) -> JetStreamConfig {
        JetStreamConfig {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            replicas: 3,
            partitions: 16,
            stream_prefix: "herald".into(),
        }
    }

    #[test]
    fn every_problem_is_listed() {
        let mut c = config(&["nats://127.0.0.1:4222", "localhost", "h:0"]);
        c.replicas = 7;
        c.partitions = 0;
        c.stream_prefix = "a.b".into();
        let p = c.problems();
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p[0].contains("\"localhost\" must be host:port"), "{p:?}");
        assert!(config(&[]).problems()[0].contains("at least one"));
        assert!(
            config(&["127.0.0.1:4222", "tls://n1:4333"])
                .problems()
                .is_empty()
        );
    }

    #[test]
    fn credentials_come_in_pairs() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(nats_credentials(env(&[])), Ok(NatsCredentials::None));
        let up = nats_credentials(env(&[(NATS_USER_ENV, "u"), (NATS_PASSWORD_ENV, "p")]));
        assert!(matches!(up, Ok(NatsCredentials::UserPassword { .. })));
        assert!(nats_credentials(env(&[(NATS_USER_ENV, "u")])).is_err());
        let both = env(&[
            (NATS_TOKEN_ENV, "t"),
            (NATS_USER_ENV, "u"),
            (NATS_PASSWORD_ENV, "p"),
        ]);
        assert!(nats_credentials(both).is_err());
        assert_eq!(
            format!("{:?}", NatsCredentials::Token("secret".into())),
            "Token(..)"
        );
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::{Backend, Config};

    const BASE: &str = "[component]\njid = \"events.localhost\"\nsecret = \"s\"\n[storage]\n";

    #[test]
    fn jetstream_backend_needs_its_section_not_a_data_dir() {
        let c = Config::parse(&format!("{BASE}backend = \"jetstream\"\n")).unwrap();
        let p = c.problems();
        assert!(p.iter().any(|p| p.contains("[storage.jetstream]")), "{p:?}");
        let text = format!(
            "{BASE}backend = \"jetstream\"\n[storage.jetstream]\nservers = [\"127.0.0.1:4222\"]\n"
        );
        let c = Config::parse(&text).unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let js = c.storage.jetstream.unwrap();
        assert_eq!(
            (c.storage.backend, js.replicas, js.partitions),
            (Backend::Jetstream, 3, 16)
        );
        let sled = Config::parse(BASE).unwrap();
        assert_eq!(sled.storage.backend, Backend::Sled);
        assert!(
            sled.problems()
                .iter()
                .any(|p| p.contains("storage.data_dir is required"))
        );
        assert!(Config::parse(&format!("{BASE}backend = \"kafka\"\n")).is_err());
    }
}
