//! Dashboards in Grafana's JSON model: the built-in overview, files named by
//! the config's `dashboards:` globs (read at load and reload), and imported
//! ones, kept as one JSON file each under `<data>/dashboards/`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::Value;

/// The OpenAero design's §6.1 panels and more, over the series the
/// `openaero` preset records (with fallbacks to the raw series).
const OVERVIEW: &str = include_str!("../dashboards/overview.json");
/// The id of the built-in dashboard.
pub const OVERVIEW_ID: &str = "overview";
/// Imported dashboards larger than this are refused.
const MAX_DASHBOARD_BYTES: usize = 5 << 20;

/// Where a dashboard comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DashboardSource {
    /// Compiled in.
    Builtin,
    /// A file named in the config.
    File,
    /// Imported through the API.
    Imported,
}

/// A dashboard in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardInfo {
    /// URL-safe identifier.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Where it comes from.
    pub source: DashboardSource,
}

/// Why a dashboard operation failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DashboardError {
    /// No such dashboard.
    #[error("dashboard {0:?} not found")]
    NotFound(String),
    /// The JSON is not a Grafana dashboard.
    #[error("invalid dashboard: {0}")]
    Invalid(String),
    /// Built-in and file dashboards cannot be deleted through the API.
    #[error("dashboard {0:?} is not an imported one and cannot be deleted here")]
    ReadOnly(String),
    /// Reading or writing the dashboard files failed.
    #[error("storing dashboards: {0}")]
    Io(String),
}

#[derive(Debug, Clone)]
struct Stored {
    info: DashboardInfo,
    json: Value,
}

/// All dashboards.
#[derive(Debug)]
pub struct DashboardStore {
    imported_dir: Option<PathBuf>,
    files: RwLock<Vec<Stored>>,
    imported: RwLock<BTreeMap<String, Stored>>,
}

impl DashboardStore {
    /// A store whose imports live in `imported_dir` (memory only when
    /// `None`); loads what was imported before. Blocking I/O.
    pub fn open(imported_dir: Option<PathBuf>) -> Result<DashboardStore, DashboardError> {
        let mut imported = BTreeMap::new();
        if let Some(dir) = &imported_dir {
            std::fs::create_dir_all(dir).map_err(|e| DashboardError::Io(format!("{}: {e}", dir.display())))?;
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| DashboardError::Io(format!("{}: {e}", dir.display())))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            for p in paths {
                let id = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // One unreadable file must not hide the others.
                match std::fs::read(&p).map_err(|e| e.to_string()).and_then(|b| parse(&b)) {
                    Ok(json) => {
                        let title = title_of(&json);
                        imported.insert(
                            id.clone(),
                            Stored {
                                info: DashboardInfo {
                                    id,
                                    title,
                                    source: DashboardSource::Imported,
                                },
                                json,
                            },
                        );
                    }
                    Err(e) => {
                        tracing::warn!(file = %p.display(), error = %e, "skipping an unreadable imported dashboard")
                    }
                }
            }
        }
        Ok(DashboardStore {
            imported_dir,
            files: RwLock::new(Vec::new()),
            imported: RwLock::new(imported),
        })
    }

    /// Reads the dashboards the config's globs name (relative to `base`).
    /// Every problem is returned, each naming its file. Blocking I/O.
    pub fn read_files(globs: &[String], base: &Path) -> Result<Vec<(PathBuf, Value)>, Vec<String>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for pattern in globs {
            let full = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                base.join(pattern)
            };
            let paths = match glob::glob(&full.to_string_lossy()) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("dashboards: invalid pattern {pattern:?}: {e}"));
                    continue;
                }
            };
            let mut paths: Vec<PathBuf> = paths.flatten().collect();
            paths.sort();
            if paths.is_empty() {
                problems.push(format!("dashboards: {pattern:?} matches no file"));
            }
            for p in paths {
                match std::fs::read(&p).map_err(|e| e.to_string()).and_then(|b| parse(&b)) {
                    Ok(json) => out.push((p, json)),
                    Err(e) => problems.push(format!("dashboards: {}: {e}", p.display())),
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// Replaces the file dashboards (on config load and reload).
    pub fn set_files(&self, files: Vec<(PathBuf, Value)>) {
        let mut taken: Vec<String> = vec![OVERVIEW_ID.to_string()];
        let stored = files
            .into_iter()
            .map(|(path, json)| {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let id = unique_id(&slug(&stem), &taken);
                taken.push(id.clone());
                Stored {
                    info: DashboardInfo {
                        id,
                        title: title_of(&json),
                        source: DashboardSource::File,
                    },
                    json,
                }
            })
            .collect();
        *self.files.write() = stored;
    }

    /// Every dashboard: the built-in one, files, then imports.
    pub fn list(&self) -> Vec<DashboardInfo> {
        let mut out = vec![DashboardInfo {
            id: OVERVIEW_ID.into(),
            title: title_of(&overview()),
            source: DashboardSource::Builtin,
        }];
        out.extend(self.files.read().iter().map(|s| s.info.clone()));
        out.extend(self.imported.read().values().map(|s| s.info.clone()));
        out
    }

    /// One dashboard's JSON model.
    pub fn get(&self, id: &str) -> Result<Value, DashboardError> {
        if id == OVERVIEW_ID {
            return Ok(overview());
        }
        if let Some(s) = self.files.read().iter().find(|s| s.info.id == id) {
            return Ok(s.json.clone());
        }
        self.imported
            .read()
            .get(id)
            .map(|s| s.json.clone())
            .ok_or_else(|| DashboardError::NotFound(id.to_string()))
    }

    /// Imports a Grafana dashboard (`{"dashboard": {...}}` as Grafana
    /// exports it, or the bare model); returns its id. Blocking I/O.
    pub fn import(&self, body: &[u8]) -> Result<String, DashboardError> {
        if body.len() > MAX_DASHBOARD_BYTES {
            return Err(DashboardError::Invalid(format!(
                "{} bytes, more than the {} allowed",
                body.len(),
                MAX_DASHBOARD_BYTES
            )));
        }
        let json = parse(body).map_err(DashboardError::Invalid)?;
        let title = title_of(&json);
        let base = json
            .get("uid")
            .and_then(Value::as_str)
            .map(slug)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| slug(&title));
        let mut taken: Vec<String> = vec![OVERVIEW_ID.to_string()];
        taken.extend(self.files.read().iter().map(|s| s.info.id.clone()));
        let mut imported = self.imported.write();
        // Importing the same uid again replaces it, as Grafana's overwrite
        // does; the same title alone gets a new id.
        let replaces_uid = json.get("uid").is_some() && imported.contains_key(&base);
        taken.extend(imported.keys().filter(|k| !(replaces_uid && **k == base)).cloned());
        let id = unique_id(&base, &taken);
        if let Some(dir) = &self.imported_dir {
            let bytes = serde_json::to_vec_pretty(&json).map_err(|e| DashboardError::Io(e.to_string()))?;
            write_atomic(&dir.join(format!("{id}.json")), &bytes)?;
        }
        imported.insert(
            id.clone(),
            Stored {
                info: DashboardInfo {
                    id: id.clone(),
                    title,
                    source: DashboardSource::Imported,
                },
                json,
            },
        );
        Ok(id)
    }

    /// Deletes an imported dashboard. Blocking I/O.
    pub fn delete(&self, id: &str) -> Result<(), DashboardError> {
        let read_only = id == OVERVIEW_ID || self.files.read().iter().any(|s| s.info.id == id);
        let mut imported = self.imported.write();
        if !imported.contains_key(id) {
            return Err(if read_only {
                DashboardError::ReadOnly(id.to_string())
            } else {
                DashboardError::NotFound(id.to_string())
            });
        }
        if let Some(dir) = &self.imported_dir {
            let path = dir.join(format!("{id}.json"));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DashboardError::Io(format!("{}: {e}", path.display()))),
            }
        }
        imported.remove(id);
        Ok(())
    }
}

fn overview() -> Value {
    // Checked by a unit test, so this cannot fail at run time.
    serde_json::from_str(OVERVIEW).unwrap_or(Value::Null)
}

/// Grafana's export wraps the model in `{"dashboard": ...}`; old ones keep
/// panels under `rows`. Returns the bare model with a `panels` array.
fn parse(bytes: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let mut model = match v {
        Value::Object(mut o) if o.get("dashboard").is_some_and(Value::is_object) => {
            o.remove("dashboard").unwrap_or(Value::Null)
        }
        Value::Object(o) => Value::Object(o),
        _ => return Err("a dashboard must be a JSON object".into()),
    };
    let Some(obj) = model.as_object_mut() else {
        return Err("a dashboard must be a JSON object".into());
    };
    if !obj.contains_key("panels") {
        // Grafana before 5 nested panels in rows.
        let from_rows: Vec<Value> = obj
            .get("rows")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.get("panels").and_then(Value::as_array))
                    .flatten()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        obj.insert("panels".into(), Value::Array(from_rows));
    }
    match obj.get("panels") {
        Some(Value::Array(panels)) => {
            if let Some(i) = panels.iter().position(|p| !p.is_object()) {
                return Err(format!("panels[{i}] is not an object"));
            }
        }
        _ => return Err("\"panels\" must be an array".into()),
    }
    Ok(model)
}

fn title_of(json: &Value) -> String {
    json.get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("Untitled dashboard")
        .to_string()
}

/// Lower-case ASCII letters, digits and dashes; other characters (CJK
/// titles included) are dropped, so an id may come out empty.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c == '-' || c == '_' || c.is_whitespace()) && !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

fn unique_id(base: &str, taken: &[String]) -> String {
    let base = if base.is_empty() { "dashboard" } else { base };
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| !taken.iter().any(|t| t == c))
        .unwrap_or_else(|| base.to_string())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DashboardError> {
    let io = |e: std::io::Error| DashboardError::Io(format!("{}: {e}", path.display()));
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"dashboard":{"title":"OpenAero Monitoring Dashboard","panels":[{"title":"系统可用性","type":"stat","targets":[{"expr":"avg(availability) * 100"}]},{"title":"响应时间","type":"graph","targets":[]}]}}"#;

    #[test]
    fn the_overview_is_valid_and_listed_first() {
        let store = DashboardStore::open(None).unwrap();
        let overview = store.get(OVERVIEW_ID).unwrap();
        assert!(
            overview["panels"].as_array().is_some_and(|p| p.len() >= 4),
            "{overview}"
        );
        assert_eq!(store.list()[0].source, DashboardSource::Builtin);
    }

    #[test]
    fn imports_persist_get_ids_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = DashboardStore::open(Some(dir.path().join("dashboards"))).unwrap();
        let id = store.import(SEED.as_bytes()).unwrap();
        assert_eq!(id, "openaero-monitoring-dashboard");
        assert_eq!(store.get(&id).unwrap()["panels"].as_array().unwrap().len(), 2);
        let again = store.import(SEED.as_bytes()).unwrap();
        assert_eq!(
            again, "openaero-monitoring-dashboard-2",
            "a title alone does not overwrite"
        );
        let with_uid = store.import(br#"{"uid":"Abc_1","title":"x","panels":[]}"#).unwrap();
        assert_eq!(with_uid, "abc-1");
        assert_eq!(
            store.import(br#"{"uid":"Abc_1","title":"y","panels":[]}"#).unwrap(),
            "abc-1",
            "same uid replaces"
        );

        let reopened = DashboardStore::open(Some(dir.path().join("dashboards"))).unwrap();
        assert_eq!(reopened.list().len(), 4, "{:?}", reopened.list());
        assert_eq!(reopened.get("abc-1").unwrap()["title"], "y");
        reopened.delete(&id).unwrap();
        assert_eq!(reopened.get(&id), Err(DashboardError::NotFound(id.clone())));
        assert_eq!(
            reopened.delete(OVERVIEW_ID),
            Err(DashboardError::ReadOnly(OVERVIEW_ID.into()))
        );
    }

    #[test]
    fn bad_json_is_refused_with_a_reason() {
        let store = DashboardStore::open(None).unwrap();
        let e = |b: &str| store.import(b.as_bytes()).unwrap_err().to_string();
        assert!(e("nope").contains("not JSON"));
        assert!(e("[1]").contains("must be a JSON object"));
        assert!(e(r#"{"panels":{}}"#).contains("\"panels\" must be an array"));
        assert!(e(r#"{"panels":[1]}"#).contains("panels[0] is not an object"));
        let old = store
            .import(br#"{"title":"Old","rows":[{"panels":[{"type":"graph"}]}]}"#)
            .unwrap();
        assert_eq!(
            store.get(&old).unwrap()["panels"].as_array().unwrap().len(),
            1,
            "rows flattened"
        );
    }

    #[test]
    fn config_files_are_read_with_their_problems() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.json"), SEED).unwrap();
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        let e = DashboardStore::read_files(&["*.json".into(), "missing/*.json".into()], dir.path()).unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("bad.json") && m.contains("not JSON")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("matches no file")), "{e:?}");
        let ok = DashboardStore::read_files(&["web.json".into()], dir.path()).unwrap();
        let store = DashboardStore::open(None).unwrap();
        store.set_files(ok);
        assert_eq!(store.list()[1].id, "web");
        assert_eq!(store.list()[1].source, DashboardSource::File);
    }
}
