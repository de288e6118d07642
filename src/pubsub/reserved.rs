//! Reserved node names: `<node>/dead-letter` belongs to the owners of
//! `<node>` (issue 16). Only they (and the system, and service admins)
//! may create it, it never counts against `limits.max_nodes` (at most one
//! per counted node), and Herald writes dead letters only into one whose
//! owners all own `<node>` (see `queue/dead_letter.rs`).

use super::error::{PubsubError, PubsubResult};
use super::node::NodeMeta;
use super::queue::DEAD_LETTER_SUFFIX;
use super::service::Service;
use super::types::{Actor, Affiliation};
use crate::store::Store;

/// The node whose dead-letter node `name` is, if `name` is one.
pub(crate) fn dead_letter_parent(name: &str) -> Option<&str> {
    name.strip_suffix(DEAD_LETTER_SUFFIX)
        .filter(|parent| !parent.is_empty())
}

impl<S: Store> Service<S> {
    /// Refuses a create of a reserved name by anyone who does not own its
    /// parent (`Forbidden`; `Outcast` for the parent's outcasts). Without
    /// the parent only the system and admins may create it, so nobody can
    /// claim it before the parent exists.
    pub(crate) fn check_reserved_create(&self, actor: &Actor, name: &str) -> PubsubResult<()> {
        let Some(parent) = dead_letter_parent(name) else {
            return Ok(());
        };
        match self.nodes.get(parent) {
            Some(p) => self.access().require_owner(&p.meta, actor),
            None if self.is_superuser(actor) => Ok(()),
            None => Err(PubsubError::Forbidden),
        }
    }

    fn is_superuser(&self, actor: &Actor) -> bool {
        match actor {
            Actor::System => true,
            Actor::Entity(jid) => self.settings.admins.contains(jid),
        }
    }

    /// Whether node `name` counts against `limits.max_nodes`: all but the
    /// dead-letter node of an existing node that is no dead-letter node
    /// itself (so a failed item always has a place to go).
    pub(crate) fn counts_against_max_nodes(&self, name: &str) -> bool {
        match dead_letter_parent(name) {
            Some(parent) => {
                !self.nodes.contains_key(parent) || dead_letter_parent(parent).is_some()
            }
            None => true,
        }
    }

    /// Nodes counted against `limits.max_nodes`.
    pub(crate) fn counted_nodes(&self) -> usize {
        let names = self.nodes.keys();
        names.filter(|n| self.counts_against_max_nodes(n)).count()
    }

    /// Whether every explicit owner of `dead` owns `parent` too (an
    /// ownerless node made by the system qualifies): only then may dead
    /// letters of `parent` go into `dead`.
    pub(crate) fn owned_like_parent(&self, parent: &NodeMeta, dead: &NodeMeta) -> bool {
        let access = self.access();
        (dead.owners().iter()).all(|o| access.affiliation_of(parent, o) == Affiliation::Owner)
    }
}
