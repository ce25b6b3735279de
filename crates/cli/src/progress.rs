//! Progress bars on a terminal; nothing when quiet or when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// One bar, restarted for each stage.
pub struct Bars {
    bar: Option<ProgressBar>,
}

impl Bars {
    /// Bars drawn on stderr unless quiet or not a terminal.
    pub fn new(quiet: bool) -> Bars {
        let show = !quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(false));
            bar
        });
        Bars { bar }
    }

    /// Clears the bar.
    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn style(bytes: bool) -> ProgressStyle {
    let template = if bytes {
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} 剩余 {eta}"
    } else {
        "{spinner} {msg} {elapsed}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl jicha_ingest::Progress for Bars {
    fn stage(&self, label: &str, total: u64) {
        if let Some(b) = &self.bar {
            b.set_style(style(total > 0));
            b.set_length(total);
            b.set_position(0);
            b.set_message(label.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(200));
        }
    }
    fn position(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }
    fn finish(&self) {}
}

impl jicha_sim::Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        jicha_ingest::Progress::stage(self, label, 0);
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }
    fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn finish(&self) {}
}
