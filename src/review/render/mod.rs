//! Output formats: `text` for terminals, `markdown` exactly as posted on GitHub, `json`
//! (`nectr.review/v1`, the public contract) and `sarif` (2.1.0, for code scanning).
//!
//! Architecture invariant: rendering never changes a review; every format shows the same
//! findings in the same order.

pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use super::Review;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Sarif,
}

/// Options that only some formats use.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    /// ANSI colours in `text` (only when writing to a terminal).
    pub color: bool,
    /// `text` only: each finding's explanation, skipped files and notes too.
    pub verbose: bool,
}

/// Render `review` in `format`; the result ends with a newline.
pub fn render(review: &Review, format: Format, options: RenderOptions) -> String {
    match format {
        Format::Text => text::render(review, options.color, options.verbose),
        Format::Markdown => markdown::document(review),
        Format::Json => json::render(review),
        Format::Sarif => sarif::render(review),
    }
}
