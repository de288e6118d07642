//! `[cluster]`: several Herald instances on one JetStream cluster. One
//! instance at a time holds the lease and runs the core; the others
//! forward what reaches them (docs/architecture.md, "Several instances").

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Off by default: a single Herald needs no lease.
    pub enabled: bool,
    /// This instance's name in the lease and in `/readyz`; default
    /// `{hostname}-{pid}`.
    pub instance: Option<String>,
    /// A leader that has not renewed its lease for this long loses it, and
    /// a survivor takes over (failover takes about this long).
    pub lease_ttl_ms: u64,
    /// The URL other instances forward HTTP requests to while this one
    /// leads; default `http://{http.listen}`.
    pub advertise_http: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            instance: None,
            lease_ttl_ms: 10_000,
            advertise_http: None,
        }
    }
}

impl ClusterConfig {
    /// Every problem, each naming its key; `jetstream` says whether
    /// `[storage] backend = "jetstream"`.
    pub fn problems(&self, jetstream: bool) -> Vec<String> {
        let mut out = Vec::new();
        if !self.enabled {
            return out;
        }
        if !jetstream {
            out.push(
                "cluster.enabled needs storage.backend = \"jetstream\" (instances share its streams)"
                    .into(),
            );
        }
        if !(1_000..=600_000).contains(&self.lease_ttl_ms) {
            out.push("cluster.lease_ttl_ms must be between 1000 and 600000".into());
        }
        if let Some(name) = &self.instance
            && (name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()))
        {
            out.push("cluster.instance must be 1-64 characters, no control characters".into());
        }
        if let Some(url) = &self.advertise_http
            && !url.starts_with("http://")
        {
            out.push(format!(
                "cluster.advertise_http {url:?} must be an http:// URL (host:port)"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_jetstream_and_a_sane_lease() {
        let c = ClusterConfig {
            enabled: true,
            lease_ttl_ms: 10,
            advertise_http: Some("ftp://x".into()),
            ..Default::default()
        };
        let problems = c.problems(false);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("jetstream"));
        assert!(ClusterConfig::default().problems(false).is_empty());
        let ok = ClusterConfig {
            enabled: true,
            ..Default::default()
        };
        assert!(ok.problems(true).is_empty());
    }
}
