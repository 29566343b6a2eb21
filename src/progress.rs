//! Progress on stderr for a person watching a terminal: one self-overwriting line with a
//! spinner, what Nectr is doing and how long the current step has taken
//! (`AI review (gpt-4o-mini): 2/5 chunks done · 12 s`), drawn by `indicatif`.
//!
//! Off unless a command turns it on with [`enable`] — the CLI does so only when stderr is a
//! terminal and `--quiet` was not given; pipes, CI logs, `nectr action` and `nectr serve`
//! never see a byte of it. Messages carry untrusted text (repository names, file paths from
//! a pull request): every control and bidirectional-formatting character is dropped
//! ([`sanitize`]), so nothing in a message can move the cursor or recolour the terminal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// The bar on screen and its step's message (without the [`detail`]).
static STATE: Mutex<Option<(ProgressBar, String)>> = Mutex::new(None);

/// Show progress from now on (`true`) or never (`false`, the default).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    if !on {
        finish();
    }
}

/// Show progress when a person is watching: stderr is a terminal that can redraw a line
/// (`TERM` is not `dumb`) and `--quiet` was not given.
pub fn enable_on_terminal(quiet: bool) {
    use std::io::IsTerminal;
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    enable(!quiet && !dumb && std::io::stderr().is_terminal());
}

/// Whether progress is shown.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `text` without control characters (escape sequences, `\r`, line breaks become a space)
/// and without the invisible characters that reorder or hide text (bidirectional
/// overrides and isolates, zero-width marks), on one line.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            '\u{feff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} · {secs}")
        .expect("a valid progress template")
        .with_key(
            "secs",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} s", state.elapsed().as_secs());
            },
        )
        .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "])
}

/// Start a step: the message, and a timer from zero.
pub fn step(message: &str) {
    if !is_enabled() {
        return;
    }
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let (pb, shown) = state.get_or_insert_with(|| {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(style());
        pb.enable_steady_tick(Duration::from_millis(120));
        (pb, String::new())
    });
    pb.reset_elapsed();
    *shown = sanitize(message);
    pb.set_message(shown.clone());
}

/// A new message within the current step (the timer keeps running); starts a step when
/// none is shown.
pub fn update(message: &str) {
    if !is_enabled() {
        return;
    }
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    match state.as_mut() {
        Some((pb, shown)) => {
            *shown = sanitize(message);
            pb.set_message(shown.clone());
        }
        None => {
            drop(state);
            step(message);
        }
    }
}

/// A detail after the current step's message, e.g. how many items the pages fetched so
/// far hold (`listing open issues (200 so far)`); nothing when no step is shown.
pub fn detail(detail: &str) {
    if !is_enabled() {
        return;
    }
    let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((pb, shown)) = state.as_ref() {
        pb.set_message(format!("{shown} ({})", sanitize(detail)));
    }
}

/// Clear the line: before the result is printed, or when a step ends.
pub fn finish() {
    let taken = STATE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((pb, _)) = taken {
        pb.finish_and_clear();
    }
}

/// Run `f` (which prints to stderr) with the progress line out of the way, then draw it
/// again.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = STATE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|(pb, _)| pb.clone());
    match bar {
        Some(pb) => pb.suspend(f),
        None => f(),
    }
}

/// Clears the progress line when dropped: a step that ends early (an error, `?`) does not
/// leave its line behind.
pub struct Finish;

impl Drop for Finish {
    fn drop(&mut self) {
        finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_drive_the_terminal() {
        let hostile = "src/\x1b[2J\x1b]0;title\x07evil\r\n\u{202e}txt.rs\u{200b}\u{9b}31m";
        let clean = sanitize(hostile);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert!(!clean.contains('\u{202e}') && !clean.contains('\u{200b}'));
        assert_eq!(clean, "src/[2J]0;titleevil  txt.rs31m");
    }

    #[test]
    fn nothing_is_drawn_while_disabled() {
        enable(false);
        step("a step");
        update("more");
        assert!(STATE.lock().unwrap().is_none());
        finish();
    }
}
