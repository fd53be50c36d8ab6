//! `meta.json`: what a block holds, and block ids.
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::json::Json;
use super::BlockError;

/// The `meta.json` format version this build writes and reads.
pub const META_VERSION: u32 = 1;

/// Counts describing a block's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    /// Samples stored (staleness markers included).
    pub num_samples: u64,
    /// Series stored.
    pub num_series: u64,
    /// Pages of samples stored (the block's unit of compression, up to 240
    /// samples each; see `docs/format/block.md`).
    pub num_chunks: u64,
    /// Bytes of the `index` and `chunks` files.
    pub size_bytes: u64,
}

/// Where a block came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// 1 for a block written from the head, max of the inputs + 1 for a
    /// compacted block.
    pub level: u32,
    /// Ids of the level-1 blocks whose data this block holds, sorted.
    pub sources: Vec<String>,
}

/// The contents of `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Unique, time-sortable id (26 Crockford base32 characters: 48-bit
    /// milliseconds, then 80 random bits); also the directory name.
    pub id: String,
    /// Earliest timestamp the block covers (inclusive).
    pub min_time: i64,
    /// End of the covered range (exclusive).
    pub max_time: i64,
    /// Contents.
    pub stats: BlockStats,
    /// Lineage.
    pub compaction: Compaction,
    /// Format version of the block ([`META_VERSION`]).
    pub version: u32,
}

impl BlockMeta {
    /// Parses and checks `meta.json` bytes; `file` names it in errors.
    pub(crate) fn parse(bytes: &[u8], file: &Path) -> Result<BlockMeta, BlockError> {
        let bad = |reason: String| BlockError::Meta {
            file: file.to_path_buf(),
            reason,
        };
        let doc = Json::parse(bytes).map_err(bad)?;
        // The version first, so that a newer layout is refused as such
        // rather than as malformed.
        let version = int::<u32>(&doc, "version").map_err(bad)?;
        if version != META_VERSION {
            return Err(BlockError::UnsupportedVersion {
                file: file.to_path_buf(),
                found: version,
                supported: META_VERSION,
            });
        }
        let meta = BlockMeta::from_json(&doc, version).map_err(bad)?;
        if meta.min_time > meta.max_time {
            return Err(bad(format!(
                "min_time {} is after max_time {}",
                meta.min_time, meta.max_time
            )));
        }
        if !is_block_id(&meta.id) {
            return Err(bad(format!("invalid block id {:?}", meta.id)));
        }
        Ok(meta)
    }

    fn from_json(doc: &Json, version: u32) -> Result<BlockMeta, String> {
        let stats = doc.get("stats").ok_or("missing \"stats\"")?;
        let compaction = doc.get("compaction").ok_or("missing \"compaction\"")?;
        let sources = match compaction.get("sources") {
            Some(Json::Arr(items)) => items
                .iter()
                .map(|s| match s {
                    Json::Str(s) => Ok(s.clone()),
                    _ => Err("\"compaction.sources\" holds a non-string".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err("\"compaction.sources\" is not an array".into()),
        };
        Ok(BlockMeta {
            id: match doc.get("id") {
                Some(Json::Str(s)) => s.clone(),
                _ => return Err("\"id\" is not a string".into()),
            },
            min_time: int(doc, "min_time")?,
            max_time: int(doc, "max_time")?,
            stats: BlockStats {
                num_samples: int(stats, "num_samples")?,
                num_series: int(stats, "num_series")?,
                num_chunks: int(stats, "num_chunks")?,
                size_bytes: int(stats, "size_bytes")?,
            },
            compaction: Compaction {
                level: int(compaction, "level")?,
                sources,
            },
            version,
        })
    }

    /// `meta.json` contents.
    pub(crate) fn to_json(&self) -> String {
        let num = |v: &dyn std::fmt::Display| Json::Num(v.to_string());
        let doc = Json::Obj(vec![
            ("id".into(), Json::Str(self.id.clone())),
            ("min_time".into(), num(&self.min_time)),
            ("max_time".into(), num(&self.max_time)),
            (
                "stats".into(),
                Json::Obj(vec![
                    ("num_samples".into(), num(&self.stats.num_samples)),
                    ("num_series".into(), num(&self.stats.num_series)),
                    ("num_chunks".into(), num(&self.stats.num_chunks)),
                    ("size_bytes".into(), num(&self.stats.size_bytes)),
                ]),
            ),
            (
                "compaction".into(),
                Json::Obj(vec![
                    ("level".into(), num(&self.compaction.level)),
                    (
                        "sources".into(),
                        Json::Arr(self.compaction.sources.iter().cloned().map(Json::Str).collect()),
                    ),
                ]),
            ),
            ("version".into(), num(&self.version)),
        ]);
        let mut out = String::new();
        doc.write(&mut out, 0);
        out.push('\n');
        out
    }
}

/// The integer member `key` of `obj`.
fn int<T: std::str::FromStr>(obj: &Json, key: &str) -> Result<T, String> {
    match obj.get(key) {
        Some(Json::Num(n)) => n
            .parse()
            .map_err(|_| format!("\"{key}\": {n} is not a valid integer here")),
        Some(_) => Err(format!("\"{key}\" is not a number")),
        None => Err(format!("missing \"{key}\"")),
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Whether `s` has the shape of a block id.
pub fn is_block_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| CROCKFORD.contains(&b)) && s.as_bytes().first().is_some_and(|b| *b <= b'7')
}

fn random_u64(salt: u64) -> u64 {
    // `RandomState` is seeded from the OS once per process and varies per
    // instance; mixing in time and a salt gives independent draws.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u64(salt);
    h.write_u32(std::process::id());
    h.finish()
}

/// The last id's (ms, random) pair, to keep ids of one process increasing.
static LAST_ID: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new block id: 48 bits of milliseconds since the epoch and 80 random
/// bits, in 26 Crockford base32 characters, so that ids sort by creation
/// time. Within one millisecond of one process the random part increments.
pub fn new_block_id() -> String {
    let ms = (model::now_millis().max(0) as u64) & ((1 << 48) - 1);
    let rand80 = ((u128::from(random_u64(1)) << 64) | u128::from(random_u64(2))) & ((1u128 << 80) - 1);
    let (ms, rand80) = {
        let mut last = LAST_ID.lock();
        let next = if ms <= last.0 {
            (last.0, (last.1 + 1) & ((1u128 << 80) - 1))
        } else {
            (ms, rand80)
        };
        *last = next;
        next
    };
    let v = (u128::from(ms) << 80) | rand80;
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((v >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_unique_and_sorted() {
        let ids: Vec<String> = (0..1000).map(|_| new_block_id()).collect();
        assert!(ids.iter().all(|id| is_block_id(id)), "{}", ids[0]);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(!is_block_id("not-an-id"));
    }
}
