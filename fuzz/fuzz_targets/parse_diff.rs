//! Arbitrary bytes, lossily decoded, through `parse` and `parse_file_patch`; every query
//! method is then exercised on whatever parsed, and the parser's invariants are asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nectr::diff::{self, FileDiff, LineKind, Side};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = diff::parse(&text) {
        let _ = parsed.changed_lines();
        for file in &parsed.files {
            assert!(file.commit.is_none_or(|c| c < parsed.commits.len()));
            let _ = parsed.file(file.path());
            exercise(file);
        }
    }
    if let Ok(file) = diff::parse_file_patch("fuzz.txt", &text) {
        exercise(&file);
    }
});

/// Checks the invariants the query methods rely on, then asks every question.
fn exercise(file: &FileDiff) {
    let mut position = 0u32;
    for (i, hunk) in file.hunks.iter().enumerate() {
        if i > 0 {
            position += 1;
            let prev = &file.hunks[i - 1];
            assert!(prev.old_start + prev.old_len <= hunk.old_start + hunk.old_len);
            assert!(prev.new_start + prev.new_len <= hunk.new_start + hunk.new_len);
        }
        assert_eq!(hunk.header_position, position);
        let old = hunk
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Added)
            .count();
        let new = hunk
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Removed)
            .count();
        assert_eq!((old, new), (hunk.old_len as usize, hunk.new_len as usize));
        for line in &hunk.lines {
            position += 1;
            assert_eq!(line.position, position);
            position += u32::from(line.no_newline_at_eof);
            for (side, n) in [(Side::Left, line.old_line), (Side::Right, line.new_line)] {
                if let Some(n) = n {
                    assert_eq!(file.hunk_index(side, n), Some(i));
                    assert_eq!(file.position(side, n), Some(line.position));
                    assert!(file.is_commentable_range(side, n, n));
                }
            }
        }
    }
    for side in [Side::Left, Side::Right] {
        for n in [0, 1, 2, 3, 10, 100, u32::MAX - 1, u32::MAX] {
            let _ = file.is_commentable(side, n);
            let _ = file.is_commentable_range(side, n, n.saturating_add(5));
            let _ = file.line(side, n);
        }
    }
    let _ = (
        file.additions(),
        file.deletions(),
        file.added_lines().count(),
        file.path(),
    );
}
