//! tokio-xmpp's `XmlStream` is a `Sink<&T>`; `StreamExt::split` then needs
//! items that outlive the sink. Its `start_send` serializes at once, so an
//! owned-item wrapper is sound and lets reader and writer run as separate
//! tasks (reading must go on while a write waits on a full socket).

use super::ComponentStream;
use futures::{Sink, Stream};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_xmpp::xmlstream::{FallibleStreamElement, ReadError, XmppStreamElement};

pub struct OwnedStream(pub ComponentStream);

type Inner = ComponentStream;

impl Stream for OwnedStream {
    type Item = Result<FallibleStreamElement, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

impl Sink<XmppStreamElement> for OwnedStream {
    type Error = std::io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Inner as Sink<&XmppStreamElement>>::poll_ready(Pin::new(&mut self.0), cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: XmppStreamElement) -> Result<(), Self::Error> {
        <Inner as Sink<&XmppStreamElement>>::start_send(Pin::new(&mut self.0), &item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Inner as Sink<&XmppStreamElement>>::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Inner as Sink<&XmppStreamElement>>::poll_close(Pin::new(&mut self.0), cx)
    }
}
