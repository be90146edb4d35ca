//! What every session keeps besides its protocol state: the queue of
//! messages to send, the events for the driver, the sticky error, and the
//! counters. One implementation serves the count and the segment sessions.

use std::collections::VecDeque;

use crate::{codec, AbortReason, Channel, Event, Message, Outcome, Progress, ProtocolError, Transmit};

#[derive(Default)]
pub(crate) struct Core {
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
    error: Option<ProtocolError>,
    abort_to_send: Option<AbortReason>,
    /// Our Hello is still queued: a failure keeps it, so that the peer can
    /// run its own handshake checks and report the precise mismatch.
    hello_queued: bool,
    /// The result, once the session succeeded.
    outcome: Option<Outcome>,
    pub(crate) progress: Progress,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
}

impl Core {
    pub(crate) fn new(own_size: u64) -> Self {
        Self { progress: Progress { own_size, ..Progress::default() }, ..Self::default() }
    }

    pub(crate) fn queue(&mut self, channel: Channel, message: &Message) {
        self.hello_queued |= self.outbox.is_empty() && matches!(message, Message::Hello(_));
        self.outbox.push_back(Transmit { channel, payload: codec::encode(message) });
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub(crate) fn progress_event(&mut self) {
        self.events.push_back(Event::Progress(self.progress));
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn error(&self) -> Option<&ProtocolError> {
        self.error.as_ref()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Records success: the result and one terminal event.
    pub(crate) fn finish(&mut self, outcome: Outcome) {
        self.events.push_back(Event::Finished(outcome.clone()));
        self.outcome = Some(outcome);
    }

    /// Records the first error (later ones, and any after success, change
    /// nothing), drops what was queued, and arranges for the peer to be told.
    pub(crate) fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if let Some(first) = &self.error {
            return first.clone();
        }
        if self.is_finished() {
            return error;
        }
        // Everything queued is dropped but an unsent Hello, which goes out
        // before the Abort.
        self.outbox.truncate(usize::from(self.hello_queued));
        self.abort_to_send = error.abort_reason();
        self.error = Some(error.clone());
        self.events.push_back(Event::Failed(error.clone()));
        error
    }

    /// After the transport closed there is nobody to send an Abort to.
    pub(crate) fn forget_abort(&mut self) {
        self.abort_to_send = None;
    }

    /// The next queued message, or the Abort owed after a failure.
    pub(crate) fn pop_transmit(&mut self) -> Option<Transmit> {
        let t = match self.outbox.pop_front() {
            Some(t) => {
                self.hello_queued = false;
                t
            }
            None if self.error.is_some() => {
                let reason = self.abort_to_send.take()?;
                Transmit { channel: Channel::Control, payload: codec::encode(&Message::Abort(reason)) }
            }
            None => return None,
        };
        self.bytes_sent += t.payload.len() as u64;
        Some(t)
    }
}
