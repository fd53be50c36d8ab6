//! File-based service discovery (`file_sd_configs`), after Prometheus's
//! `discovery/file`: files (with `*`/`?` wildcards in the last path
//! element) hold a list of `{targets: [...], labels: {...}}` in JSON
//! (`.json`) or YAML (`.yml`, `.yaml`). Each group gets a
//! `__meta_filepath` label. Instead of inotify, modification times are
//! polled every few seconds; files are also re-read every
//! `refresh_interval`. A file that fails to parse keeps its last good
//! groups; a file that disappears takes its groups with it.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use model::{is_valid_label_name, Labels, LabelsBuilder};
use serde::Deserialize;

use super::config::FileSdConfig;
use super::target::{TargetGroup, ADDRESS_LABEL};

/// Label with the path of the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Prometheus's check `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`:
/// wildcards only in the last path element, and a known extension.
pub(crate) fn is_valid_file_sd_path(p: &str) -> bool {
    let ext_ok = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        .iter()
        .any(|e| p.ends_with(e));
    if !ext_ok {
        return false;
    }
    match p.find('*') {
        None => true,
        Some(i) => !p[i..].contains('/'),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroupStrict {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawGroupLenient {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Targets and labels of one group as read.
type RawGroup = (Vec<String>, BTreeMap<String, String>);

fn is_json(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".json")
}

/// Parses the content of a file_sd file named `path` (the extension picks
/// JSON or YAML) into target groups with `__meta_filepath` set and
/// sources `path:index`.
pub fn parse_file_sd(content: &[u8], path: &str) -> Result<Vec<TargetGroup>, String> {
    let raw: Vec<Option<RawGroup>> = if is_json(path) {
        let v: Vec<Option<RawGroupLenient>> = serde_json::from_slice(content).map_err(|e| e.to_string())?;
        v.into_iter().map(|g| g.map(|g| (g.targets, g.labels))).collect()
    } else {
        if content.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new());
        }
        let v: Vec<Option<RawGroupStrict>> = serde_yaml::from_slice(content).map_err(|e| e.to_string())?;
        v.into_iter().map(|g| g.map(|g| (g.targets, g.labels))).collect()
    };
    let mut out = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        let Some((targets, labels)) = g else {
            return Err(format!("nil target group item found (index {i})"));
        };
        let mut lb = LabelsBuilder::new();
        for (name, value) in labels {
            if !is_valid_label_name(&name) {
                return Err(format!("{name:?} is not a valid label name"));
            }
            lb.set(name, value);
        }
        lb.set(FILEPATH_LABEL, path.to_string());
        out.push(TargetGroup {
            source: format!("{path}:{i}"),
            targets: targets
                .into_iter()
                .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t)]))
                .collect(),
            labels: lb.build(),
        });
    }
    Ok(out)
}

/// `*` any run of characters, `?` any one character; no path separators.
fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let (mut star_p, mut star_n) = (None, 0);
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star_p = Some(p);
            star_n = n;
            p += 1;
        } else if let Some(sp) = star_p {
            p = sp + 1;
            star_n += 1;
            n = star_n;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The existing files matching `pattern`, sorted.
pub(crate) fn expand_pattern(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !file.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let pat: Vec<char> = file.chars().collect();
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name: Vec<char> = e.file_name().to_string_lossy().chars().collect();
                wildcard_match(&pat, &name) && e.path().is_file()
            })
            .map(|e| dir.join(e.file_name()))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// What a file looked like when last read: changes trigger a re-read.
type Fingerprint = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

/// The state of one `file_sd_configs` entry.
#[derive(Debug)]
pub(crate) struct FileSdWatcher {
    config: FileSdConfig,
    fingerprint: Fingerprint,
    groups: HashMap<PathBuf, Vec<TargetGroup>>,
    last_refresh: Option<Instant>,
}

impl FileSdWatcher {
    pub fn new(config: FileSdConfig) -> Self {
        FileSdWatcher {
            config,
            fingerprint: Fingerprint::new(),
            groups: HashMap::new(),
            last_refresh: None,
        }
    }

    fn current_fingerprint(&self) -> Fingerprint {
        let mut fp = Fingerprint::new();
        for pattern in &self.config.files {
            for p in expand_pattern(pattern) {
                let meta = std::fs::metadata(&p).ok();
                let mtime = meta.as_ref().and_then(|m| m.modified().ok());
                let len = meta.map(|m| m.len()).unwrap_or(0);
                fp.insert(p, (mtime, len));
            }
        }
        fp
    }

    /// True when files changed (appeared, vanished, modified) or the
    /// refresh interval passed since the last read.
    pub fn needs_refresh(&self) -> bool {
        match self.last_refresh {
            None => true,
            Some(t) if t.elapsed() >= self.config.refresh_interval.0 => true,
            Some(_) => self.current_fingerprint() != self.fingerprint,
        }
    }

    /// Re-reads every matching file and returns all groups. Unparseable
    /// files keep their previous groups.
    pub fn refresh(&mut self) -> Vec<TargetGroup> {
        self.fingerprint = self.current_fingerprint();
        self.last_refresh = Some(Instant::now());
        let mut groups = HashMap::new();
        for path in self.fingerprint.keys() {
            let name = path.to_string_lossy().into_owned();
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|c| parse_file_sd(&c, &name));
            match parsed {
                Ok(g) => {
                    groups.insert(path.clone(), g);
                }
                Err(e) => {
                    tracing::error!(file = %name, error = %e, "error reading file_sd file");
                    if let Some(prev) = self.groups.get(path) {
                        groups.insert(path.clone(), prev.clone());
                    }
                }
            }
        }
        self.groups = groups;
        let mut all: Vec<(&PathBuf, &Vec<TargetGroup>)> = self.groups.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().flat_map(|(_, g)| g.iter().cloned()).collect()
    }
}

#[cfg(test)]
pub(crate) fn wildcard_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    wildcard_match(&p, &n)
}
