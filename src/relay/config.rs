//! `[relay]` configuration: which nodes go to which rooms, and how fast.

use serde::Deserialize;

use crate::node_pattern::NodePattern;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Messages per room and window before Herald switches to a digest.
    #[serde(default = "default_rate")]
    pub max_per_minute: u32,
    /// Length of the rate window in seconds (60: "per minute"; tests
    /// shorten it).
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// Resource of Herald's occupant JID (`events.example.com/relay`).
    #[serde(default = "default_resource")]
    pub resource: String,
    #[serde(default)]
    pub rooms: Vec<RoomConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// Node patterns (syntax: `crate::node_pattern`, documented in
    /// herald.example.toml).
    pub nodes: Vec<String>,
    /// Bare room JID, e.g. `ops@conference.example.com`.
    pub room: String,
    #[serde(default = "default_nick")]
    pub nick: String,
    #[serde(default)]
    pub password: Option<String>,
    /// Overrides `relay.max_per_minute` for this room.
    #[serde(default)]
    pub max_per_minute: Option<u32>,
}

fn default_rate() -> u32 {
    20
}
fn default_window() -> u64 {
    60
}
fn default_resource() -> String {
    "relay".into()
}
fn default_nick() -> String {
    "herald".into()
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_per_minute: default_rate(),
            window_secs: default_window(),
            resource: default_resource(),
            rooms: Vec::new(),
        }
    }
}

impl RelayConfig {
    /// Checks room JIDs, nicks, patterns and rates; each room once.
    pub fn validate(&self) -> Result<(), String> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every problem of `[relay]` (`check-config` lists them all).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.window_secs == 0 || self.max_per_minute == 0 {
            problems.push("relay.max_per_minute and relay.window_secs must be > 0".into());
        }
        let mut seen = Vec::new();
        for r in &self.rooms {
            let what = format!("relay.rooms {:?}", r.room);
            match tokio_xmpp::jid::BareJid::new(&r.room) {
                Ok(j) if j.node().is_some() => {}
                _ => problems.push(format!(
                    "{what}: the room must be a bare JID like ops@conference.example.com"
                )),
            }
            if seen.contains(&r.room) {
                problems.push(format!(
                    "{what}: listed twice; put all its nodes in one entry"
                ));
            }
            seen.push(r.room.clone());
            if r.nick.trim().is_empty() || r.nodes.is_empty() || r.max_per_minute == Some(0) {
                problems.push(format!("{what}: needs a nick, nodes and a rate > 0"));
            }
            problems.extend(NodePattern::problems(&what, &r.nodes));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(jid: &str) -> RoomConfig {
        RoomConfig {
            nodes: vec!["apps*".into()],
            room: jid.into(),
            nick: "herald".into(),
            password: None,
            max_per_minute: None,
        }
    }

    #[test]
    fn rooms_must_be_bare_jids_listed_once() {
        let mut c = RelayConfig::default();
        c.rooms.push(room("ops@conference.localhost"));
        assert!(c.validate().is_ok());
        c.rooms.push(room("ops@conference.localhost"));
        assert!(c.validate().unwrap_err().contains("twice"));
        c.rooms = vec![room("conference.localhost")];
        assert!(c.validate().is_err());
    }
}
