//! The driver-facing interface shared by the count and segment sessions.
//!
//! A driver feeds a [`Machine`] the peer's messages, takes what it has to
//! send, and reads what happened; the same loop runs either kind of match.
//! Each session only says how its own states react ([`Protocol`]); the
//! bookkeeping every session needs (sticky errors, the Abort owed to the
//! peer, counters) is written once, here and in `core.rs`.

use crate::{
    codec, core::Core, DecodeError, Event, Message, Misbehavior, Outcome, Progress, ProtocolError, Refusal, Transmit,
};

/// One party's side of a match, driven by bytes in and bytes out.
pub trait Machine {
    /// Processes one message from the peer. An error is final: it is also
    /// reported as [`Event::Failed`], every later call returns it again, and
    /// the next [`poll_transmit`](Self::poll_transmit) yields an Abort for
    /// the peer. After success, messages change nothing.
    fn handle_message(&mut self, bytes: &[u8]) -> Result<(), ProtocolError>;
    /// The transport closed before the session finished.
    fn handle_close(&mut self);
    /// The transport read a frame header announcing `len` bytes, more than
    /// any message may have; it did not read the body.
    fn handle_oversize(&mut self, len: usize);
    /// Stops the session from our side; the peer is told.
    fn cancel(&mut self);
    /// Refuses the session by one of our guardrails (a privacy ledger with
    /// too little ε left for this peer, an index budget or epoch that is
    /// spent). Our Hello, if still unsent, goes out first, so the peer
    /// learns who refused and why (the [`AbortReason`](crate::AbortReason)
    /// of [`Refusal::abort_reason`](crate::Refusal::abort_reason)).
    fn refuse(&mut self, reason: Refusal);
    /// The next message to send, if any. Call until it returns `None`, and
    /// again after every input. Computes the next batch when nothing else is
    /// pending, so the cost lands where the transport asks for data.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Event>;
    /// Whether the session reached a terminal state.
    fn is_done(&self) -> bool;
    /// The result, once finished.
    fn outcome(&self) -> Option<&Outcome>;
    /// The error that ended the session, if one did.
    fn error(&self) -> Option<&ProtocolError>;
    /// Counters so far.
    fn progress(&self) -> Progress;
    /// Encoded bytes handed out by `poll_transmit`.
    fn bytes_sent(&self) -> u64;
    /// Encoded bytes passed to `handle_message`.
    fn bytes_received(&self) -> u64;
}

/// How one kind of session reacts; [`Machine`] is derived from it.
pub(crate) trait Protocol {
    fn core(&mut self) -> &mut Core;
    fn core_ref(&self) -> &Core;
    /// What the session is doing, for errors.
    fn phase(&self) -> &'static str;
    /// Handles one decoded message (never an Abort).
    fn dispatch(&mut self, message: Message) -> Result<(), ProtocolError>;
    /// The next data message to send, computed now, if any.
    fn next_message(&mut self) -> Option<(crate::Channel, Message)>;
    /// Moves on once everything for the current phase went out and came in.
    fn advance(&mut self) -> Result<(), ProtocolError>;
    /// The error to report when the transport closes now.
    fn close_error(&self) -> ProtocolError {
        Misbehavior::UnexpectedEnd { phase: self.phase() }.into()
    }
    /// Drops the protocol state (and with it every key).
    fn drop_state(&mut self);
}

fn fail<P: Protocol>(p: &mut P, error: ProtocolError) -> ProtocolError {
    if !p.core_ref().is_finished() {
        p.drop_state();
    }
    p.core().fail(error)
}

impl<P: Protocol> Machine for P {
    fn handle_message(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = self.core_ref().error() {
            return Err(e.clone());
        }
        if self.core_ref().is_finished() {
            return Err(Misbehavior::UnexpectedMessage { message: "any", phase: "finished" }.into());
        }
        self.core().bytes_received += bytes.len() as u64;
        let result = codec::decode(bytes).map_err(ProtocolError::from).and_then(|m| match m {
            Message::Abort(reason) => Err(ProtocolError::PeerAborted(reason)),
            m => self.dispatch(m).and_then(|()| self.advance()),
        });
        result.map_err(|e| fail(self, e))
    }

    fn handle_close(&mut self) {
        if self.is_done() {
            return;
        }
        let error = self.close_error();
        fail(self, error);
        self.core().forget_abort();
    }

    fn handle_oversize(&mut self, len: usize) {
        if !self.is_done() {
            fail(self, DecodeError::Oversize { len, max: codec::MAX_MESSAGE_BYTES }.into());
        }
    }

    fn cancel(&mut self) {
        if !self.is_done() {
            fail(self, ProtocolError::Cancelled);
        }
    }

    fn refuse(&mut self, reason: Refusal) {
        if !self.is_done() {
            fail(self, ProtocolError::Refused(reason));
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some(t) = self.core().pop_transmit() {
                return Some(t);
            }
            if self.is_done() {
                return None;
            }
            let (channel, message) = self.next_message()?;
            self.core().progress_event();
            self.core().queue(channel, &message);
            if let Err(e) = self.advance() {
                fail(self, e);
            }
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.core().poll_event()
    }

    fn is_done(&self) -> bool {
        self.core_ref().is_finished() || self.core_ref().error().is_some()
    }

    fn outcome(&self) -> Option<&Outcome> {
        self.core_ref().outcome()
    }

    fn error(&self) -> Option<&ProtocolError> {
        self.core_ref().error()
    }

    fn progress(&self) -> Progress {
        self.core_ref().progress
    }

    fn bytes_sent(&self) -> u64 {
        self.core_ref().bytes_sent
    }

    fn bytes_received(&self) -> u64 {
        self.core_ref().bytes_received
    }
}
