//! The component link survives stanzas nested far deeper than any tree
//! builder can recurse (issue 16): the vendored reader refuses them as
//! invalid stanzas, keeps the stream, and reads the next stanza. Runs the
//! real stream code over an in-memory duplex standing in for ejabberd.

use futures::StreamExt;
use std::borrow::Cow;
use tokio::io::{AsyncWriteExt, BufStream};
use tokio_xmpp::Stanza;
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, MAX_STANZA_DEPTH, StreamElementError, StreamHeader, Timeouts,
    XmppStreamElement, initiate_stream,
};

const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
     xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='events.localhost'>";

fn deep_iq(id: &str, depth_inside: usize) -> String {
    nested_iq(id, depth_inside, "<a>")
}

/// `open` is the opening tag repeated inside the query. rxml looks up an
/// element's default namespace by walking its scope stack up to the nearest
/// declaration, so undeclared levels cost O(depth) each; a declaration per
/// level keeps a 100,000-deep test fast without changing what the builder
/// sees.
fn nested_iq(id: &str, depth_inside: usize, open: &str) -> String {
    let mut s = format!(
        "<iq type='get' id='{id}' from='alice@localhost/r' to='events.localhost'>\
         <query xmlns='urn:deep'>"
    );
    s.push_str(&open.repeat(depth_inside));
    s.push_str(&"</a>".repeat(depth_inside));
    s.push_str("</query></iq>");
    s
}

/// Sends `stanzas` from the fake server, then returns what Herald's side
/// of the stream read, one entry per stanza.
async fn read_after(stanzas: Vec<String>) -> Vec<FallibleStreamElement> {
    let (herald, mut server) = tokio::io::duplex(64 * 1024);
    let n = stanzas.len();
    let writer = tokio::spawn(async move {
        server.write_all(SERVER_HEADER.as_bytes()).await.unwrap();
        for s in stanzas {
            server.write_all(s.as_bytes()).await.unwrap();
        }
        // Keep the server end open until the reader is done.
        server
    });
    let header = StreamHeader {
        to: Some(Cow::Borrowed("events.localhost")),
        from: None,
        id: None,
    };
    let pending = initiate_stream(
        BufStream::new(herald),
        "jabber:component:accept",
        header,
        Timeouts::tight(),
    )
    .await
    .expect("stream opens");
    let mut stream = pending.skip_features::<FallibleStreamElement>();
    let mut out = Vec::new();
    for _ in 0..n {
        match stream.next().await {
            Some(Ok(el)) => out.push(el),
            other => panic!("the stream broke: {other:?}"),
        }
    }
    drop(writer.await.unwrap());
    out
}

fn assert_refused_as_too_deep(el: &FallibleStreamElement, id: &str) {
    match el {
        FallibleStreamElement::Err(StreamElementError::InvalidStanza { header, error, .. }) => {
            assert_eq!(header.id.as_deref(), Some(id));
            assert!(error.to_string().contains("deep"), "{error}");
        }
        other => panic!("expected an invalid stanza, got {other:?}"),
    }
}

fn assert_iq(el: &FallibleStreamElement, id: &str) {
    match el {
        FallibleStreamElement::Ok(XmppStreamElement::Stanza(Stanza::Iq(iq))) => {
            assert_eq!(iq.id(), id);
        }
        other => panic!("expected iq {id}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stanza_5000_deep_is_refused_and_the_link_reads_on() {
    let got = read_after(vec![deep_iq("deep", 5_000), deep_iq("after", 1)]).await;
    assert_refused_as_too_deep(&got[0], "deep");
    assert_iq(&got[1], "after");
}

#[tokio::test]
async fn a_stanza_100000_deep_is_refused_and_the_link_reads_on() {
    let deep = nested_iq("deeper", 100_000, "<a xmlns='urn:deep'>");
    let got = read_after(vec![deep, deep_iq("after", 0)]).await;
    assert_refused_as_too_deep(&got[0], "deeper");
    assert_iq(&got[1], "after");
}

#[tokio::test]
async fn a_stanza_at_the_cap_is_read() {
    // iq + query + inside = MAX_STANZA_DEPTH.
    let got = read_after(vec![
        deep_iq("at-cap", MAX_STANZA_DEPTH - 2),
        deep_iq("over-cap", MAX_STANZA_DEPTH - 1),
        deep_iq("after", 0),
    ])
    .await;
    assert_iq(&got[0], "at-cap");
    assert_refused_as_too_deep(&got[1], "over-cap");
    assert_iq(&got[2], "after");
}
