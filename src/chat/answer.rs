//! Chat commands run against the core, with the same access rules as the
//! XMPP requests: `subscribe` is a §6.1 subscribe of the sender's bare JID
//! with the `herald#chat` option, `last` a §6.5.7 retrieval.

use super::body::BodyRenderer;
use super::command::{self, Command};
use crate::pubsub::{
    Actor, BareJid, CHAT_FIELD, Jid, NodeName, Notification, PubsubError, Service,
    SubscriptionState,
};
use crate::store::Store;

/// The readable answer and the notifications the command caused (the
/// service itself knows whether it must flush).
#[derive(Debug, Default)]
pub struct Answer {
    pub text: String,
    /// Notifications the core produced (e.g. an approval request to owners).
    pub notifications: Vec<Notification>,
}

impl Answer {
    fn say(text: impl Into<String>) -> Self {
        Answer {
            text: text.into(),
            ..Answer::default()
        }
    }
}

/// Runs `cmd` for the sender `from`.
pub fn execute<S: Store>(
    service: &mut Service<S>,
    bodies: &BodyRenderer,
    from: &BareJid,
    cmd: Command,
) -> Answer {
    let actor = Actor::Entity(from.clone());
    match cmd {
        Command::Help => Answer::say(command::help_text()),
        Command::List => Answer::say(list(service, &actor)),
        Command::Subscribe(node) => subscribe(service, &actor, from, &node),
        Command::Unsubscribe(node) => unsubscribe(service, &actor, from, &node),
        Command::Last(node, n, asked) => {
            Answer::say(last(service, bodies, &actor, &node, n, asked))
        }
    }
}

/// The nodes disco#items shows the sender (the same core view), marked
/// when the sender gets them here: `*` subscribed by chat, `+` through a
/// collection the sender subscribed to by chat (and may read the leaf).
fn list<S: Store>(service: &Service<S>, actor: &Actor) -> String {
    let nodes = service.discover_nodes(actor);
    if nodes.is_empty() {
        return "There are no nodes you can read yet.".into();
    }
    let subs = service.subscriptions(actor, None).unwrap_or_default();
    let mut lines = vec!["Nodes (* = you receive them here, + = through a collection):".to_owned()];
    // Room for the list in one message under limits.max_stanza_bytes, even
    // if every character had to be escaped as an entity.
    let budget = service.settings().max_stanza_bytes / 8;
    let mut used = 0;
    let total = nodes.len();
    for (shown, n) in nodes.into_iter().enumerate() {
        used += n.node.len() + n.title.len() + 8;
        if used > budget {
            lines.push(format!(
                "… and {} more (too many for one message; browse them with disco#items)",
                total - shown
            ));
            break;
        }
        let mine = subs.iter().any(|s| s.node == n.node && s.options.chat);
        let through = through_collection(service, actor, &n.node);
        let mark = match (mine, &through) {
            (true, _) => "*",
            (false, Some(_)) => "+",
            _ => " ",
        };
        let kind = match is_collection(service, actor, &n.node) {
            true => " [collection]",
            false => "",
        };
        let title = match n.title.is_empty() {
            true => String::new(),
            false => format!(" ({})", n.title),
        };
        let via = match (mine, through) {
            (false, Some(c)) => format!(" via {c}"),
            _ => String::new(),
        };
        lines.push(format!("{mark} {}{kind}{title}{via}", n.node));
    }
    lines.join("\n")
}

/// The collection through which the sender's chat gets `leaf`, if any.
fn through_collection<S: Store>(service: &Service<S>, actor: &Actor, leaf: &str) -> Option<String> {
    let me = actor.bare()?;
    let via = service.chat_collection_subscribers(leaf).into_iter();
    via.into_iter()
        .find(|(jid, _)| jid.to_bare() == *me)
        .map(|(_, c)| c)
}

fn is_collection<S: Store>(service: &Service<S>, actor: &Actor, node: &str) -> bool {
    let Ok(name) = NodeName::new(node) else {
        return false;
    };
    (service.node_metadata(actor, &name)).is_ok_and(|m| m.is_collection)
}

/// A chat subscription; to a collection it is an XEP-0248 items
/// subscription of every depth, so items of all leaves below arrive.
fn subscribe<S: Store>(
    service: &mut Service<S>,
    actor: &Actor,
    from: &BareJid,
    node: &NodeName,
) -> Answer {
    let collection = is_collection(service, actor, node);
    let mut options = vec![(CHAT_FIELD.to_owned(), vec!["true".to_owned()])];
    if collection {
        options.extend(collection_options());
    }
    let jid = Jid::from(from.clone());
    match service.subscribe(actor, node, &jid, Some(&options)) {
        Ok(o) => {
            let what = match collection {
                true => "new items of every node in it (each named)",
                false => "new items",
            };
            let text = match o.reply.state {
                SubscriptionState::Pending => {
                    format!("Your subscription to {node} awaits an owner's approval.")
                }
                _ => format!(
                    "Subscribed to {node}: {what} arrive here as chat messages. \
                     Send \"unsubscribe {node}\" to stop."
                ),
            };
            Answer {
                text,
                notifications: o.notifications,
            }
        }
        Err(e) => Answer::say(refusal("subscribe to", node, &e)),
    }
}

/// XEP-0248 §4.1 options of a chat subscription to a collection: items
/// (the default, `nodes`, would deliver no items), at every depth.
fn collection_options() -> [(String, Vec<String>); 2] {
    [
        (
            "pubsub#subscription_type".to_owned(),
            vec!["items".to_owned()],
        ),
        (
            "pubsub#subscription_depth".to_owned(),
            vec!["all".to_owned()],
        ),
    ]
}

fn unsubscribe<S: Store>(
    service: &mut Service<S>,
    actor: &Actor,
    from: &BareJid,
    node: &NodeName,
) -> Answer {
    let subs = match service.subscriptions(actor, Some(node)) {
        Ok(s) => s,
        Err(e) => return Answer::say(refusal("unsubscribe from", node, &e)),
    };
    let jid = Jid::from(from.clone());
    let chat = subs.into_iter().find(|s| s.options.chat && s.jid == jid);
    let Some(sub) = chat else {
        return Answer::say(format!("You do not receive {node} here; nothing to stop."));
    };
    match service.unsubscribe(actor, node, &jid, Some(&sub.subid)) {
        Ok(_) => Answer {
            text: format!("Unsubscribed from {node}."),
            ..Answer::default()
        },
        Err(e) => Answer::say(refusal("unsubscribe from", node, &e)),
    }
}

fn last<S: Store>(
    service: &Service<S>,
    bodies: &BodyRenderer,
    actor: &Actor,
    node: &NodeName,
    n: usize,
    asked: usize,
) -> String {
    let page = match service.items(actor, node, Some(n)) {
        Ok(p) => p,
        Err(e) => return refusal("read", node, &e),
    };
    if page.items.is_empty() {
        return format!("{node} has no items.");
    }
    let capped = if asked > n {
        format!(" (you asked for {asked}; at most {n} are shown)")
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "The {} newest of {} items on {node}{capped}:",
        page.items.len(),
        page.total
    )];
    lines.extend(
        page.items
            .iter()
            .map(|i| format!("{}: {}", i.id, bodies.render(node, i))),
    );
    lines.join("\n")
}

/// A readable refusal naming the reason and, where there is one, the fix.
pub fn refusal(action: &str, node: &str, e: &PubsubError) -> String {
    let why = match e {
        PubsubError::NodeNotFound | PubsubError::NodeIdRequired => {
            return format!(
                "There is no node \"{node}\". Send \"list\" to see the nodes you can read."
            );
        }
        PubsubError::Outcast => "you are banned from it".to_owned(),
        PubsubError::Forbidden => "your affiliation does not allow it".to_owned(),
        PubsubError::NotAuthorized => {
            "it is open only to contacts of this service: add it to your contact list first"
                .to_owned()
        }
        PubsubError::ClosedNode => {
            "access is restricted to its whitelist; ask an owner of the node to add you".to_owned()
        }
        PubsubError::PendingSubscription => {
            "your subscription still awaits an owner's approval".to_owned()
        }
        PubsubError::SubscriptionRequired => "it requires an approved subscription".to_owned(),
        other => other.to_string(),
    };
    format!("Refused: you may not {action} {node}: {why}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::names::nn;
    use crate::pubsub::{Affiliation, ServiceSettings};
    use crate::store::MemoryStore;

    fn actor(s: &str) -> Actor {
        Actor::Entity(BareJid::new(s).unwrap())
    }

    /// `list` shows exactly what disco#items shows (issue 16): a whitelist
    /// node is hidden from strangers, also from one subscribed before the
    /// owner closed the node.
    #[test]
    fn list_hides_whitelist_nodes_from_strangers() {
        let settings = ServiceSettings {
            create_domains: vec!["example.com".into()],
            ..ServiceSettings::default()
        };
        let mut svc = Service::open(MemoryStore::new(), settings).unwrap();
        let (owner, bob, carol) = ("o@example.com", "bob@example.com", "carol@example.com");
        let _ = svc
            .create_node(&actor(owner), Some(&nn("team")), None)
            .unwrap();
        let bob_jid = Jid::new(bob).unwrap();
        let _ = svc
            .subscribe(&actor(bob), &nn("team"), &bob_jid, None)
            .unwrap();
        let closed = [(
            "pubsub#access_model".to_owned(),
            vec!["whitelist".to_owned()],
        )];
        let _ = svc.configure(&actor(owner), &nn("team"), &closed).unwrap();
        let carol_bare = BareJid::new(carol).unwrap();
        let member = [(carol_bare, Affiliation::Member)];
        let _ = svc
            .modify_affiliations(&actor(owner), &nn("team"), &member)
            .unwrap();
        for who in [bob, carol] {
            let shown = list(&svc, &actor(who)).contains("team");
            assert_eq!(shown, !svc.discover_nodes(&actor(who)).is_empty(), "{who}");
        }
        assert!(!list(&svc, &actor(bob)).contains("team"));
        assert!(list(&svc, &actor(carol)).contains("team"));
    }
}
