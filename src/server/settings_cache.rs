//! The webhook receiver's short-lived copy of each repository's dashboard settings.
//!
//! The receiver reads a repository's settings to record a delivery the settings turn off as
//! ignored at once. That read would be a third database round trip on the acknowledgement
//! path (after the webhook's secret and before the group commit), paid by every delivery, so
//! the receiver keeps what it read for [`TTL`]. Nothing depends on the copy being fresh: the
//! worker reads the settings again when it takes the event and skips it then if they turned
//! it off meanwhile. A save from this process's dashboard drops the copy at once; another
//! replica's save reaches this receiver within [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::RepoSettings;

/// How long a copy is used before the settings are read again.
pub const TTL: Duration = Duration::from_secs(10);

/// The most repositories kept; past it the copies are dropped and read again, so the map
/// stays small whatever deliveries arrive.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct SettingsCache {
    entries: Mutex<HashMap<String, (Instant, RepoSettings)>>,
}

impl SettingsCache {
    /// The copy for `repo` (any case), if it was read less than [`TTL`] ago.
    pub fn get(&self, repo: &str) -> Option<RepoSettings> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&repo.to_ascii_lowercase())
            .filter(|(read, _)| read.elapsed() < TTL)
            .map(|(_, settings)| *settings)
    }

    pub fn put(&self, repo: &str, settings: RepoSettings) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (read, _)| read.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(repo.to_ascii_lowercase(), (Instant::now(), settings));
    }

    /// Drops the copy for `repo`: its settings were just saved.
    pub fn forget(&self, repo: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&repo.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_kept_per_repository_and_dropped_on_save() {
        let cache = SettingsCache::default();
        assert_eq!(cache.get("o/r"), None);
        let off = RepoSettings {
            on_comments: false,
            ..RepoSettings::default()
        };
        cache.put("O/R", off);
        assert_eq!(cache.get("o/r"), Some(off), "names are case-insensitive");
        assert_eq!(cache.get("o/other"), None);
        cache.forget("o/R");
        assert_eq!(cache.get("o/r"), None);
    }

    #[test]
    fn the_map_stays_bounded() {
        let cache = SettingsCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(&format!("o/r{i}"), RepoSettings::default());
        }
        let len = cache.entries.lock().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len} entries");
        assert!(cache.get(&format!("o/r{}", MAX_ENTRIES + 9)).is_some());
    }
}
