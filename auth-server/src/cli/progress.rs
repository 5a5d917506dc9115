//! Progress bars of the long admin operations (bulk import, provisioning, export and
//! import of subscriptions): on standard error, drawn only when standard error is a
//! terminal and the output is not `--json`, so scripts and pipes see none of it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar for `total` steps labelled `what` (hidden when it should not be drawn).
pub fn bar(total: u64, what: &str, json: bool) -> ProgressBar {
    let visible = !json && std::io::stderr().is_terminal();
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(Some(total), target);
    let style = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_message(what.to_owned());
    pb
}
