//! Progress bars on stderr, hidden when stderr is not a terminal or with
//! `--quiet`.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use venn_protocol::{Event, Progress};

/// The bars of one party.
pub struct Bars {
    multi: MultiProgress,
    sending: ProgressBar,
    receiving: ProgressBar,
    matching: ProgressBar,
}

impl Bars {
    /// Bars labelled with `who` (useful when two parties share a terminal).
    pub fn new(who: &str, quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let bar = |what: &str| {
            let style = ProgressStyle::with_template(&format!(
                "{who:>8} {what:<10} [{{bar:30}}] {{pos:>9}}/{{len:9}} {{per_sec:>12}} {{eta}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            multi.add(ProgressBar::new(0).with_style(style))
        };
        Self { sending: bar("blinding"), receiving: bar("receiving"), matching: bar("matching"), multi }
    }

    /// A spinner for a phase without a known total (reading a file).
    pub fn spinner(&self, message: &str) -> ProgressBar {
        let spinner = self.multi.add(ProgressBar::new_spinner());
        spinner.set_message(message.to_owned());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner
    }

    /// Updates the bars from a protocol event.
    pub fn observe(&self, event: &Event) {
        if let Event::Progress(p) = event {
            self.update(p);
        }
    }

    fn update(&self, p: &Progress) {
        self.sending.set_length(p.own_size);
        self.sending.set_position(p.points_sent);
        self.receiving.set_length(p.peer_size);
        self.receiving.set_position(p.points_received);
        self.matching.set_length(p.own_size);
        self.matching.set_position(p.tags_received);
    }

    /// Runs `f` (which prints) with the bars hidden, so lines do not tear.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    /// Removes the bars.
    pub fn finish(&self) {
        for bar in [&self.sending, &self.receiving, &self.matching] {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}
