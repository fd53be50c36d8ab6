//! The database through its public API: append, query, restart, crash tails.
use model::{Labels, MatchType, Matcher, STALE_NAN};
use tsdb::{AppendError, Db, Options, Querier};

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn m(kind: MatchType, n: &str, v: &str) -> Matcher {
    Matcher::new(kind, n, v).unwrap()
}

fn fixture(db: &Db) {
    let mut app = db.appender();
    for (i, (method, code)) in [("GET", "200"), ("GET", "500"), ("POST", "200"), ("PUT", "503")]
        .iter()
        .enumerate()
    {
        let l = lbl(&[
            ("__name__", "http_requests_total"),
            ("method", method),
            ("status_code", code),
        ]);
        for t in 0..10 {
            app.append(&l, t * 1000, (i * 100 + t as usize) as f64).unwrap();
        }
    }
    app.append(&lbl(&[("__name__", "up"), ("job", "a")]), 0, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "up"), ("job", "b"), ("env", "prod")]), 0, 0.0)
        .unwrap();
    app.commit().unwrap();
}

#[test]
fn matchers_follow_prometheus_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
    fixture(&db);
    let q = db.querier(i64::MIN, i64::MAX);
    let count = |ms: Vec<Matcher>| q.select(&ms).unwrap().len();
    assert_eq!(count(vec![m(MatchType::Equal, "__name__", "http_requests_total")]), 4);
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "http_requests_total"),
            m(MatchType::Regex, "status_code", "5..")
        ]),
        2
    );
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "http_requests_total"),
            m(MatchType::NotRegex, "method", "GET|POST")
        ]),
        1
    );
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "http_requests_total"),
            m(MatchType::NotEqual, "method", "GET")
        ]),
        2
    );
    // A missing label matches as the empty string.
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "up"),
            m(MatchType::Equal, "env", "")
        ]),
        1
    );
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "up"),
            m(MatchType::NotEqual, "env", "")
        ]),
        1
    );
    assert_eq!(count(vec![m(MatchType::Regex, "job", ".+")]), 2);
    assert_eq!(count(vec![m(MatchType::Regex, "__name__", "up|nope")]), 2);
    assert_eq!(count(vec![m(MatchType::Regex, "__name__", "http_.*")]), 4);
    assert_eq!(count(vec![m(MatchType::Equal, "nolabel", "x")]), 0);
    assert_eq!(count(vec![m(MatchType::NotEqual, "nolabel", "x")]), 6);
    let s = q.select(&[m(MatchType::Equal, "method", "PUT")]).unwrap();
    assert_eq!(s[0].samples.len(), 10);
    assert_eq!(s[0].samples[3].v, 303.0);
    assert_eq!(q.label_values("method", &[]).unwrap(), vec!["GET", "POST", "PUT"]);
    assert!(q.label_names(&[]).unwrap().contains(&"env".to_string()));
    assert_eq!(
        q.label_names(&[m(MatchType::Equal, "job", "a")]).unwrap(),
        vec!["__name__", "job"]
    );
    // Time range restricts samples.
    let q = db.querier(2000, 4000);
    let s = q.select(&[m(MatchType::Equal, "method", "PUT")]).unwrap();
    assert_eq!(
        s[0].samples.iter().map(|x| x.t).collect::<Vec<_>>(),
        vec![2000, 3000, 4000]
    );
    assert!(q.select(&[m(MatchType::Equal, "__name__", "up")]).unwrap().is_empty());
}

#[test]
fn ordering_rules_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
    let l = lbl(&[("__name__", "x")]);
    let mut app = db.appender();
    app.append(&l, 10_000_000, 1.0).unwrap();
    assert!(matches!(app.append(&l, 9_000_000, 1.0), Err(AppendError::OutOfOrder)));
    app.append(&l, 10_000_000, 1.0).unwrap();
    assert!(matches!(
        app.append(&l, 10_000_000, 2.0),
        Err(AppendError::DuplicateTimestamp)
    ));
    app.commit().unwrap();
    let mut app = db.appender();
    assert!(matches!(app.append(&l, 5, 1.0), Err(AppendError::OutOfOrder)));
    // A new series far behind the head's newest sample is out of bounds.
    let old = lbl(&[("__name__", "y")]);
    assert!(matches!(
        app.append(&old, 10_000_000 - 2 * 3_600_000, 1.0),
        Err(AppendError::OutOfBounds)
    ));
    app.append(&l, 10_000_001, STALE_NAN).unwrap();
    app.commit().unwrap();
    let s = db
        .querier(0, i64::MAX)
        .select(&[m(MatchType::Equal, "__name__", "x")])
        .unwrap();
    assert_eq!(s[0].samples.len(), 2);
    assert!(
        model::is_stale_nan(s[0].samples[1].v),
        "staleness marker kept bit-exact"
    );
}

#[test]
fn empty_store_accepts_backfill_and_uncommitted_data_is_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    app.append(&lbl(&[("__name__", "old")]), 86_400_000, 1.0).unwrap();
    assert!(db
        .querier(0, i64::MAX)
        .select(&[m(MatchType::Equal, "__name__", "old")])
        .unwrap()
        .is_empty());
    app.commit().unwrap();
    assert_eq!(
        db.querier(0, i64::MAX)
            .select(&[m(MatchType::Equal, "__name__", "old")])
            .unwrap()
            .len(),
        1
    );
    let mut app = db.appender();
    app.append(&lbl(&[("__name__", "rolled")]), 86_400_000, 1.0).unwrap();
    app.rollback();
    assert!(db
        .querier(0, i64::MAX)
        .select(&[m(MatchType::Equal, "__name__", "rolled")])
        .unwrap()
        .is_empty());
}

#[test]
fn restart_replays_everything_committed() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
        fixture(&db);
        db.querier(i64::MIN, i64::MAX)
            .select(&[m(MatchType::Regex, "__name__", ".+")])
            .unwrap()
    };
    let (db, report) = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.head.samples, 42);
    let after = db
        .querier(i64::MIN, i64::MAX)
        .select(&[m(MatchType::Regex, "__name__", ".+")])
        .unwrap();
    assert_eq!(before, after);
    // Appends continue after replay without ref clashes.
    let mut app = db.appender();
    app.append(&lbl(&[("__name__", "new")]), 20_000, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "up"), ("job", "a")]), 20_000, 1.0)
        .unwrap();
    app.commit().unwrap();
    drop(db);
    let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
    let q = db.querier(i64::MIN, i64::MAX);
    assert_eq!(q.select(&[m(MatchType::Equal, "__name__", "new")]).unwrap().len(), 1);
    assert_eq!(
        q.select(&[m(MatchType::Equal, "job", "a")]).unwrap()[0].samples.len(),
        2
    );
}

#[test]
fn torn_wal_tail_is_truncated_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, _) = Db::open(dir.path(), Options::default()).unwrap();
        fixture(&db);
        let mut app = db.appender();
        app.append(&lbl(&[("__name__", "last")]), 50_000, 1.0).unwrap();
        app.commit().unwrap();
    }
    // Cut the newest non-empty segment in the middle of its last record.
    let mut segs: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && std::fs::metadata(p).unwrap().len() > 8)
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let (db, report) = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.wal.corrupt_tails_truncated, 1);
    let q = db.querier(i64::MIN, i64::MAX);
    assert_eq!(
        q.select(&[m(MatchType::Equal, "__name__", "http_requests_total")])
            .unwrap()
            .len(),
        4
    );
    assert!(q.select(&[m(MatchType::Equal, "__name__", "last")]).unwrap().is_empty());
}

#[test]
fn second_open_of_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _) = Db::open(dir.path(), Options::default()).unwrap();
    let err = Db::open(dir.path(), Options::default()).err().expect("locked");
    assert!(err.to_string().contains("locked"), "{err}");
}
