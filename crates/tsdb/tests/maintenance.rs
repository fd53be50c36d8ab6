//! Head → blocks → compaction → retention, through the public API, checked
//! against the data that went in.
use model::{Labels, MatchType, Matcher, Sample};
use tsdb::{Db, Options, Querier};

const H: i64 = 3600 * 1000;

fn all(db: &Db) -> Vec<(Labels, Vec<Sample>)> {
    let m = Matcher::new(MatchType::Regex, "__name__", ".+").unwrap();
    db.querier(i64::MIN / 2, i64::MAX / 2)
        .select(&[m])
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples))
        .collect()
}

/// Writes `hours` of 15 s data for 20 series; series `gone` stops after 1 h.
fn load(db: &Db, from_h: i64, hours: i64) -> Vec<(Labels, Vec<Sample>)> {
    let mut expected: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
    let step = 15_000;
    let mut t = from_h * H;
    while t < (from_h + hours) * H {
        let mut app = db.appender();
        for i in 0..20 {
            let l = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
            let v = (t / step) as f64 * (i as f64 + 0.5);
            app.append(&l, t + (i as i64 % 3), v).unwrap();
            expected.entry(l).or_default().push(Sample {
                t: t + (i as i64 % 3),
                v,
            });
        }
        if t < (from_h + 1) * H {
            let l = Labels::from_pairs([("__name__", "gone")]);
            app.append(&l, t, 1.0).unwrap();
            expected.entry(l).or_default().push(Sample { t, v: 1.0 });
        }
        app.commit().unwrap();
        t += step;
    }
    expected.into_iter().collect()
}

fn opts(retention_ms: i64) -> Options {
    Options {
        retention_ms,
        ..Options::default()
    }
}

#[test]
fn head_is_cut_into_blocks_and_queries_see_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), opts(0)).unwrap();
    let expected = load(&db, 0, 8);
    let report = db.maintain().unwrap();
    assert!(report.head_blocks >= 2, "{report:?}");
    assert!(report.checkpointed);
    let head = db.head();
    let span = head.max_time().unwrap() - head.min_time().unwrap();
    assert!(span <= 3 * H, "head still spans {span} ms");
    assert_eq!(head.num_series(), 20, "the stale series left the head");
    assert_eq!(all(&db), expected, "blocks + head = what was written");
    // Old samples are now refused.
    let mut app = db.appender();
    let l = Labels::from_pairs([("__name__", "late")]);
    assert!(app.append(&l, H, 1.0).is_err());
    drop(app);
    // Restart: blocks + checkpoint + WAL give the same data, nothing twice.
    let db_blocks_before = db.blocks().len();
    assert!(db_blocks_before >= 1);
    drop(db);
    let (db, report) = Db::open(dir.path(), opts(0)).unwrap();
    assert_eq!(report.blocks, db_blocks_before);
    assert_eq!(all(&db), expected);
    // The WAL was checkpointed: fewer samples replayed than written.
    let written: usize = expected.iter().map(|(_, s)| s.len()).sum();
    assert!(
        (report.head.samples as usize) < written / 2,
        "replayed {} of {written}",
        report.head.samples
    );
}

#[test]
fn blocks_are_compacted_into_larger_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), opts(0)).unwrap();
    let expected = load(&db, 0, 11);
    db.maintain().unwrap();
    let blocks = db.blocks();
    assert!(
        blocks.iter().any(|b| b.meta().max_time - b.meta().min_time == 6 * H),
        "a 6 h block exists: {:?}",
        blocks
            .iter()
            .map(|b| (b.meta().min_time, b.meta().max_time))
            .collect::<Vec<_>>()
    );
    assert!(blocks.iter().any(|b| b.meta().compaction.level >= 2));
    assert_eq!(all(&db), expected);
    // Retired source blocks are gone from disk once unused.
    db.maintain().unwrap();
    let dirs = std::fs::read_dir(dir.path().join("blocks")).unwrap().count();
    assert_eq!(dirs, db.blocks().len());
}

#[test]
fn retention_deletes_blocks_behind_the_newest_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), opts(5 * H)).unwrap();
    load(&db, 0, 12);
    let report = db.maintain().unwrap();
    assert!(report.deleted >= 1, "{report:?}");
    let newest = db.max_time().unwrap();
    for b in db.blocks() {
        assert!(
            b.meta().max_time > newest - 5 * H,
            "block {:?} should be gone",
            b.meta()
        );
    }
    let oldest = all(&db)
        .iter()
        .filter_map(|(_, s)| s.first().map(|x| x.t))
        .min()
        .unwrap();
    assert!(oldest >= newest - 7 * H, "old data still queryable: {oldest}");
}

#[test]
fn backfill_into_an_empty_store_at_any_time_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), opts(0)).unwrap();
    let expected = load(&db, 1_000_000, 7);
    db.maintain().unwrap();
    assert_eq!(all(&db), expected);
}

#[test]
fn closed_head_chunks_leave_memory_as_they_close_and_load_back_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), opts(0)).unwrap();
    let mut expected = load(&db, 0, 2);
    // 480 samples per series: three closed chunks each, already on disk.
    assert!(db.head().spilled_bytes() > 0);
    let report = db.maintain().unwrap();
    assert_eq!(report.head_blocks, 0, "2 h of data is not cut yet");
    assert_eq!(report.spilled, 0, "nothing left in memory to move: {report:?}");
    assert_eq!(all(&db), expected, "spilled chunks read back exactly");
    drop(db);

    let (db, report) = Db::open(dir.path(), opts(0)).unwrap();
    assert!(report.head.chunks_loaded >= 20 * 3, "{:?}", report.head);
    assert!(report.head.chunk_skipped >= 20 * 360, "{:?}", report.head);
    assert_eq!(all(&db), expected, "after restart, loaded chunks + WAL tail");

    let more = load(&db, 2, 6);
    for (l, s) in more {
        match expected.iter_mut().find(|(el, _)| *el == l) {
            Some((_, es)) => es.extend(s),
            None => expected.push((l, s)),
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    // Cutting blocks reads spilled chunks back; nothing is lost.
    let report = db.maintain().unwrap();
    assert!(report.head_blocks >= 1, "{report:?}");
    assert_eq!(all(&db), expected);
    drop(db);
    let (db, report) = Db::open(dir.path(), opts(0)).unwrap();
    assert!(report.head.chunks_loaded > 0, "{:?}", report.head);
    assert_eq!(all(&db), expected, "after truncation and restart");
    drop(db);

    // The WAL stays the source of truth: a damaged head chunk file, or none
    // at all, loses nothing.
    let chunks_dir = dir.path().join("head_chunks");
    let mut names: Vec<_> = std::fs::read_dir(&chunks_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let first = &names[0];
    let mut bytes = std::fs::read(first).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(first, bytes).unwrap();
    let (db, _) = Db::open(dir.path(), opts(0)).unwrap();
    assert_eq!(all(&db), expected, "after corrupting a head chunk file");
    drop(db);
    std::fs::remove_dir_all(&chunks_dir).unwrap();
    let (db, report) = Db::open(dir.path(), opts(0)).unwrap();
    assert_eq!(report.head.chunks_loaded, 0);
    assert_eq!(all(&db), expected, "after deleting head_chunks/");
}
