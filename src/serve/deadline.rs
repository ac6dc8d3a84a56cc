//! A request body that must arrive whole by a deadline.
//!
//! tower-http's `TimeoutBody` restarts its clock at every frame, so a client sending one
//! byte every few seconds would hold its connection (and a handler) for as long as the
//! body's size allows: days, for a 2 MB body. A fixed deadline from the head bounds
//! that; every body our clients send is a few kilobytes and arrives in milliseconds.

use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive whole within {0:?}")]
pub struct BodyLate(Duration);

pub struct Deadline<B> {
    body: B,
    limit: Duration,
    /// Armed on the first read, so a handler that never reads costs no timer.
    timer: Option<Pin<Box<Sleep>>>,
    /// When the head arrived: the deadline runs from there.
    began: Instant,
}

impl<B> Deadline<B> {
    pub fn new(body: B, limit: Duration) -> Self {
        Deadline { body, limit, timer: None, began: Instant::now() }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let (began, limit) = (this.began, this.limit);
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(began + limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyLate(limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
