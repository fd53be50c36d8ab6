use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::segment::{segment_name, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::*;

fn opts(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        fsync: FsyncPolicy::Never,
    }
}

/// Opens `dir`, collecting every replayed record.
fn open_collect(dir: &Path, o: WalOptions) -> (Wal, ReplayStats, Vec<Vec<u8>>) {
    let mut got = Vec::new();
    let (wal, stats) = Wal::open(dir, o, |r| {
        got.push(r.to_vec());
        Ok(())
    })
    .unwrap();
    (wal, stats, got)
}

/// A deterministic record: `i` as 8 bytes followed by `len - 8` bytes derived
/// from it (or just a prefix of those 8 bytes when `len < 8`).
fn rec(i: u64, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = i.to_le_bytes().to_vec();
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v.truncate(len);
    v
}

fn seg_path(dir: &Path, i: u64) -> PathBuf {
    dir.join(segment_name(i))
}

fn seg_files(dir: &Path) -> Vec<u64> {
    segment::list_dir(dir).unwrap().segments
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn framed(len: usize) -> u64 {
    (RECORD_HEADER_LEN + len) as u64
}

#[test]
fn empty_dir_opens_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("does/not/exist/yet");
    let (wal, stats, got) = open_collect(&dir, WalOptions::default());
    assert!(got.is_empty());
    assert_eq!(stats.records, 0);
    assert_eq!(stats.segments, 0);
    assert_eq!(stats.checkpoint, None);
    assert_eq!(stats.corrupt_tails_truncated, 0);
    assert_eq!(wal.segment_range().unwrap(), (1, 1));
    assert_eq!(wal.dir(), dir.as_path());
    assert_eq!(wal.disk_size(), SEGMENT_HEADER_LEN);
    assert_eq!(fs::read(seg_path(&dir, 1)).unwrap(), b"AWAL\x01\x00\x00\x00");
    // An existing but empty directory, too.
    drop(wal);
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (_wal, stats, got) = open_collect(&empty, WalOptions::default());
    assert!(got.is_empty());
    assert_eq!(stats.records, 0);
}

#[test]
fn round_trip_across_many_segment_rolls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let seg_size = 4096;
    let mut want = Vec::new();
    {
        let (wal, _, _) = open_collect(dir, opts(seg_size));
        let mut i = 0u64;
        while i < 3000 {
            let batch: Vec<Vec<u8>> = (0..(i % 3 + 1)).map(|k| rec(i + k, ((i + k) % 300) as usize)).collect();
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            wal.log(&refs).unwrap();
            i += batch.len() as u64;
            want.extend(batch);
        }
        let st = wal.stats();
        assert_eq!(st.records_written, want.len() as u64);
        assert_eq!(st.bytes_written, want.iter().map(|r| framed(r.len())).sum::<u64>());
        assert!(st.segments_created > 20, "expected many rolls, got {st:?}");
        let (first, last) = wal.segment_range().unwrap();
        assert_eq!(first, 1);
        assert_eq!(last, wal.active_segment());
        assert_eq!(
            wal.disk_size(),
            (first..=last)
                .map(|i| fs::metadata(seg_path(dir, i)).unwrap().len())
                .sum()
        );
    }
    for i in seg_files(dir) {
        let len = fs::metadata(seg_path(dir, i)).unwrap().len();
        assert!(len <= seg_size, "segment {i} is {len} bytes");
    }
    let n_files = seg_files(dir).len() as u64;
    let (wal, stats, got) = open_collect(dir, opts(seg_size));
    assert_eq!(got, want);
    assert_eq!(stats.records, want.len() as u64);
    assert_eq!(stats.segments, n_files);
    assert_eq!(stats.corrupt_tails_truncated, 0);
    assert_eq!(stats.truncated_bytes, 0);
    assert_eq!(wal.active_segment(), n_files + 1);
}

#[test]
fn zero_length_records_and_empty_batches() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (wal, _, _) = open_collect(tmp.path(), opts(1 << 20));
        wal.log(&[]).unwrap();
        wal.log(&[b"", b"x", b""]).unwrap();
        wal.log(&[b""]).unwrap();
    }
    let (_, stats, got) = open_collect(tmp.path(), opts(1 << 20));
    assert_eq!(got, vec![b"".to_vec(), b"x".to_vec(), b"".to_vec(), b"".to_vec()]);
    assert_eq!(stats.corrupt_tails_truncated, 0);
}

#[test]
fn record_larger_than_segment_goes_whole_into_a_fresh_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let big = rec(7, 10_000);
    {
        let (wal, _, _) = open_collect(dir, opts(1024));
        wal.log(&[&rec(1, 100)]).unwrap();
        wal.log(&[&big]).unwrap();
        wal.log(&[&rec(2, 100)]).unwrap();
        // A big record in an empty segment does not leave an empty segment
        // behind.
        wal.cut_segment().unwrap();
        wal.log(&[&big]).unwrap();
    }
    assert_eq!(seg_files(dir), vec![1, 2, 3, 4]);
    assert_eq!(
        fs::metadata(seg_path(dir, 1)).unwrap().len(),
        SEGMENT_HEADER_LEN + framed(100)
    );
    assert_eq!(
        fs::metadata(seg_path(dir, 2)).unwrap().len(),
        SEGMENT_HEADER_LEN + framed(10_000)
    );
    assert_eq!(
        fs::metadata(seg_path(dir, 3)).unwrap().len(),
        SEGMENT_HEADER_LEN + framed(100)
    );
    assert_eq!(
        fs::metadata(seg_path(dir, 4)).unwrap().len(),
        SEGMENT_HEADER_LEN + framed(10_000)
    );
    let (_, _, got) = open_collect(dir, opts(1024));
    assert_eq!(got, vec![rec(1, 100), big.clone(), rec(2, 100), big]);
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let recs = [rec(1, 50), rec(2, 0), rec(3, 37)];
    {
        let (wal, _, _) = open_collect(&base, opts(1 << 20));
        for r in &recs {
            wal.log(&[r]).unwrap();
        }
    }
    assert_eq!(seg_files(&base), vec![1]);
    let full = fs::metadata(seg_path(&base, 1)).unwrap().len();
    let last_start = full - framed(recs[2].len());

    for cut in last_start..full {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&base, &dir);
        let f = fs::OpenOptions::new().write(true).open(seg_path(&dir, 1)).unwrap();
        f.set_len(cut).unwrap();
        drop(f);

        let (wal, stats, got) = open_collect(&dir, opts(1 << 20));
        assert_eq!(got, recs[..2].to_vec(), "cut at {cut}");
        assert_eq!(
            fs::metadata(seg_path(&dir, 1)).unwrap().len(),
            last_start,
            "cut at {cut}"
        );
        let torn = cut > last_start;
        assert_eq!(stats.corrupt_tails_truncated, u64::from(torn), "cut at {cut}");
        assert_eq!(stats.truncated_bytes, cut - last_start, "cut at {cut}");
        assert_eq!(stats.records, 2);

        wal.log(&[b"after"]).unwrap();
        drop(wal);
        let (_, stats, got) = open_collect(&dir, opts(1 << 20));
        let mut want = recs[..2].to_vec();
        want.push(b"after".to_vec());
        assert_eq!(got, want, "reopen after cut at {cut}");
        assert_eq!(stats.corrupt_tails_truncated, 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn torn_segment_header_is_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (wal, _, _) = open_collect(dir, opts(1 << 20));
        wal.log(&[b"one"]).unwrap();
    }
    // A crash right after creating segment 2: partial header.
    fs::write(seg_path(dir, 2), b"AWA").unwrap();
    let (wal, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![b"one".to_vec()]);
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(stats.truncated_bytes, 3);
    assert_eq!(fs::metadata(seg_path(dir, 2)).unwrap().len(), 0);
    assert_eq!(wal.active_segment(), 3);
    wal.log(&[b"two"]).unwrap();
    drop(wal);
    // The now empty segment 2 is a valid, empty segment.
    let (_, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(stats.corrupt_tails_truncated, 0);
}

#[test]
fn checksum_flip_in_last_segment_truncates_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = [rec(1, 100), rec(2, 100), rec(3, 100)];
    {
        let (wal, _, _) = open_collect(dir, opts(1 << 20));
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        wal.log(&refs).unwrap();
    }
    let path = seg_path(dir, 1);
    let mut bytes = fs::read(&path).unwrap();
    let second = SEGMENT_HEADER_LEN + framed(100);
    bytes[(second + framed(50)) as usize] ^= 0x40; // a payload byte of record 2
    fs::write(&path, &bytes).unwrap();

    let (_, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![recs[0].clone()]);
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(stats.truncated_bytes, 2 * framed(100));
    assert_eq!(stats.segments_removed, 0);
    assert_eq!(fs::metadata(&path).unwrap().len(), second);
}

#[test]
fn zero_filled_tail_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (wal, _, _) = open_collect(dir, opts(1 << 20));
        wal.log(&[b"a", b""]).unwrap();
    }
    let path = seg_path(dir, 1);
    let good = fs::metadata(&path).unwrap().len();
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    fs::write(&path, &bytes).unwrap();
    let (_, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![b"a".to_vec(), Vec::new()]);
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(stats.truncated_bytes, 4096);
    assert_eq!(fs::metadata(&path).unwrap().len(), good);
}

#[test]
fn impossible_length_in_last_segment_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (wal, _, _) = open_collect(dir, opts(1 << 20));
        wal.log(&[b"keep"]).unwrap();
        wal.log(&[&rec(9, 64)]).unwrap();
    }
    let path = seg_path(dir, 1);
    let mut bytes = fs::read(&path).unwrap();
    let off = (SEGMENT_HEADER_LEN + framed(4)) as usize;
    bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let (_, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![b"keep".to_vec()]);
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(fs::metadata(&path).unwrap().len(), off as u64);
}

/// Writes records of 200 bytes into 1 KiB segments; returns them.
fn fill_segments(dir: &Path, n: u64) -> Vec<Vec<u8>> {
    let (wal, _, _) = open_collect(dir, opts(1024));
    let recs: Vec<Vec<u8>> = (0..n).map(|i| rec(i, 200)).collect();
    for r in &recs {
        wal.log(&[r]).unwrap();
    }
    recs
}

#[test]
fn corruption_in_a_middle_segment_removes_later_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = fill_segments(dir, 20); // 4 records per segment: segments 1..=5
    assert_eq!(seg_files(dir), vec![1, 2, 3, 4, 5]);
    let later_bytes: u64 = [4, 5]
        .iter()
        .map(|&i| fs::metadata(seg_path(dir, i)).unwrap().len())
        .sum();

    // Flip a payload byte of the 2nd record of segment 3 (record #9).
    let path = seg_path(dir, 3);
    let mut bytes = fs::read(&path).unwrap();
    let at = SEGMENT_HEADER_LEN + framed(200) + framed(10);
    bytes[at as usize] ^= 1;
    fs::write(&path, &bytes).unwrap();

    let (wal, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, recs[..9].to_vec());
    assert_eq!(stats.records, 9);
    assert_eq!(stats.segments, 3);
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(stats.segments_removed, 2);
    assert_eq!(stats.truncated_bytes, later_bytes + 3 * framed(200));
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_HEADER_LEN + framed(200));
    assert_eq!(seg_files(dir), vec![1, 2, 3, 4]);
    assert_eq!(wal.active_segment(), 4);
    wal.log(&[b"new"]).unwrap();
    drop(wal);

    let (_, stats, got) = open_collect(dir, opts(1024));
    let mut want = recs[..9].to_vec();
    want.push(b"new".to_vec());
    assert_eq!(got, want);
    assert_eq!(stats.corrupt_tails_truncated, 0);
}

#[test]
fn gap_in_segment_sequence_is_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = fill_segments(dir, 20);
    fs::remove_file(seg_path(dir, 3)).unwrap();
    let (wal, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, recs[..8].to_vec());
    assert_eq!(stats.corrupt_tails_truncated, 1);
    assert_eq!(stats.segments_removed, 2);
    assert_eq!(seg_files(dir), vec![1, 2, 3]);
    assert_eq!(wal.active_segment(), 3);
}

#[test]
fn on_record_error_aborts_open_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fill_segments(dir, 20);
    let before = seg_files(dir);
    let mut seen = 0;
    let err = Wal::open(dir, opts(1024), |_| {
        seen += 1;
        if seen == 6 {
            return Err(WalError::handler("bad record"));
        }
        Ok(())
    })
    .unwrap_err();
    assert!(matches!(err, WalError::Handler(_)), "{err}");
    assert_eq!(err.to_string(), "wal record handler: bad record");
    assert_eq!(seg_files(dir), before);
}

#[test]
fn unsupported_version_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fill_segments(dir, 2);
    let path = seg_path(dir, 1);
    let mut bytes = fs::read(&path).unwrap();
    bytes[4] = 9;
    fs::write(&path, &bytes).unwrap();
    let err = Wal::open(dir, opts(1024), |_| Ok(())).unwrap_err();
    assert!(matches!(err, WalError::UnsupportedVersion { version: 9, .. }), "{err}");
    assert!(err.to_string().contains("00000001"), "{err}");
}

#[test]
fn checkpoint_then_replay_yields_checkpoint_and_later_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = fill_segments(dir, 20); // segments 1..=5 (+ empty 6 is not created: fill drops)
    let (wal, _, got) = open_collect(dir, opts(1024));
    assert_eq!(got, recs);
    assert_eq!(wal.segment_range().unwrap(), (1, 6));
    wal.log(&[b"in six"]).unwrap();

    // Build a checkpoint over 1..=3 the way the head does: read, filter, write.
    let mut read = Vec::new();
    wal.read_range(1, 3, |r| {
        read.push(r.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(read, recs[..12].to_vec());
    let kept: Vec<Vec<u8>> = read.iter().step_by(4).cloned().collect();
    wal.write_checkpoint(3, &mut kept.clone().into_iter()).unwrap();

    assert_eq!(wal.segment_range().unwrap(), (4, 6));
    assert!(dir.join("checkpoint.00000003").is_dir());
    let cp_bytes: u64 = SEGMENT_HEADER_LEN + kept.iter().map(|r| framed(r.len())).sum::<u64>();
    let seg_bytes: u64 = (4..=6).map(|i| fs::metadata(seg_path(dir, i)).unwrap().len()).sum();
    assert_eq!(wal.disk_size(), cp_bytes + seg_bytes);

    // read_range now builds on the checkpoint.
    let mut read = Vec::new();
    wal.read_range(4, 5, |r| {
        read.push(r.to_vec());
        Ok(())
    })
    .unwrap();
    let mut want = kept.clone();
    want.extend_from_slice(&recs[12..]);
    assert_eq!(read, want);
    drop(wal);

    let (wal, stats, got) = open_collect(dir, opts(1024));
    let mut want = kept.clone();
    want.extend_from_slice(&recs[12..]);
    want.push(b"in six".to_vec());
    assert_eq!(got, want);
    assert_eq!(stats.checkpoint, Some(3));
    assert_eq!(stats.segments, 3);
    assert_eq!(stats.records, want.len() as u64);

    // A second checkpoint replaces the first.
    wal.write_checkpoint(5, &mut vec![b"only".to_vec()].into_iter())
        .unwrap();
    assert!(!dir.join("checkpoint.00000003").exists());
    drop(wal);
    let (_, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, vec![b"only".to_vec(), b"in six".to_vec()]);
    assert_eq!(stats.checkpoint, Some(5));
}

#[test]
fn checkpoint_spanning_several_files_and_empty_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (wal, _, _) = open_collect(dir, opts(1024));
    wal.log(&[b"x"]).unwrap();
    wal.cut_segment().unwrap();
    let cp: Vec<Vec<u8>> = (0..50).map(|i| rec(i, 100)).collect();
    wal.write_checkpoint(1, &mut cp.clone().into_iter()).unwrap();
    let files = segment::list_dir(&dir.join("checkpoint.00000001")).unwrap().segments;
    assert!(files.len() > 3, "{files:?}");
    assert_eq!(files[0], 0);
    drop(wal);
    let (wal, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, cp);
    assert_eq!(stats.checkpoint, Some(1));

    let (_, last) = wal.segment_range().unwrap();
    wal.cut_segment().unwrap();
    wal.write_checkpoint(last, &mut std::iter::empty()).unwrap();
    drop(wal);
    let (_, stats, got) = open_collect(dir, opts(1024));
    assert!(got.is_empty());
    assert_eq!(stats.checkpoint, Some(last));
}

#[test]
fn write_checkpoint_refuses_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (wal, _, _) = open_collect(dir, opts(1024));
    wal.log(&[b"x"]).unwrap();
    let err = wal.write_checkpoint(1, &mut std::iter::empty()).unwrap_err();
    assert!(matches!(err, WalError::InvalidRange { .. }), "{err}");
    wal.cut_segment().unwrap();
    wal.cut_segment().unwrap();
    wal.write_checkpoint(2, &mut std::iter::empty()).unwrap();
    let err = wal.write_checkpoint(2, &mut std::iter::empty()).unwrap_err();
    assert!(matches!(err, WalError::InvalidRange { .. }), "{err}");
    let err = wal.read_range(1, 3, |_| Ok(())).unwrap_err();
    assert!(matches!(err, WalError::MissingSegment { .. }), "{err}");
    assert!(wal.read_range(3, 2, |_| Ok(())).is_err());
}

#[test]
fn read_range_reports_corruption_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fill_segments(dir, 8);
    let (wal, _, _) = open_collect(dir, opts(1024));
    let path = seg_path(dir, 2);
    let mut bytes = fs::read(&path).unwrap();
    let off = SEGMENT_HEADER_LEN + framed(200);
    bytes[(off + 20) as usize] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let err = wal.read_range(1, 2, |_| Ok(())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "wal segment {}: corrupt record at offset {off}: checksum mismatch",
            path.display()
        )
    );
    // read_range never repairs.
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn leftover_tmp_checkpoint_is_ignored_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = fill_segments(dir, 8);
    let stale = dir.join("checkpoint.00000002.tmp");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("00000000"), b"AWAL\x01\x00\x00\x00garbage").unwrap();
    let (wal, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, recs);
    assert_eq!(stats.checkpoint, None);
    assert_eq!(stats.corrupt_tails_truncated, 0);
    assert!(!stale.exists());
    assert_eq!(wal.segment_range().unwrap().0, 1);
}

#[test]
fn interrupted_checkpoint_cleanup_is_finished_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recs = fill_segments(dir, 20); // 1..=5
    {
        let (wal, _, _) = open_collect(dir, opts(1024));
        wal.write_checkpoint(2, &mut vec![b"cp2".to_vec()].into_iter()).unwrap();
    }
    // Simulate a crash after the rename of checkpoint 4 but before clean-up:
    // checkpoint.2 and segments 3, 4 are still there.
    let cp4 = dir.join("checkpoint.00000004");
    fs::create_dir(&cp4).unwrap();
    fs::copy(dir.join("checkpoint.00000002/00000000"), cp4.join("00000000")).unwrap();
    let (_, stats, got) = open_collect(dir, opts(1024));
    let mut want = vec![b"cp2".to_vec()];
    want.extend_from_slice(&recs[16..]);
    assert_eq!(got, want);
    assert_eq!(stats.checkpoint, Some(4));
    assert!(!dir.join("checkpoint.00000002").exists());
    assert!(!seg_path(dir, 3).exists() && !seg_path(dir, 4).exists());
}

#[test]
fn damaged_checkpoint_does_not_fail_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (wal, _, _) = open_collect(dir, opts(1024));
        wal.cut_segment().unwrap();
        wal.write_checkpoint(1, &mut vec![b"a".to_vec(), b"b".to_vec()].into_iter())
            .unwrap();
        wal.log(&[b"c"]).unwrap();
    }
    let cp = dir.join("checkpoint.00000001/00000000");
    let mut bytes = fs::read(&cp).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&cp, &bytes).unwrap();
    let (_, stats, got) = open_collect(dir, opts(1024));
    assert_eq!(got, vec![b"a".to_vec(), b"c".to_vec()]);
    assert_eq!(stats.checkpoint, Some(1));
}

#[test]
fn concurrent_log_with_fsync_always_uses_group_commit() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 100;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = WalOptions {
        segment_size: DEFAULT_SEGMENT_SIZE,
        fsync: FsyncPolicy::Always,
    };
    let (wal, _, _) = open_collect(dir, o.clone());
    let wal = Arc::new(wal);
    let base = wal.stats();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for c in 0..CALLS {
                    let id = t * 1_000_000 + c;
                    wal.log(&[&rec(id, 64), &rec(id + 500_000, 16)]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = wal.stats();
    let calls = THREADS * CALLS;
    assert_eq!(st.log_calls, calls);
    let fsyncs = st.fsyncs - base.fsyncs;
    eprintln!("group commit: {fsyncs} fsyncs for {calls} log calls");
    assert!(fsyncs >= 1);
    assert!(
        fsyncs < calls,
        "group commit should share fsyncs: {fsyncs} fsyncs for {calls} calls"
    );
    assert!(st.fsync_duration_ns > 0);
    drop(wal);

    let (_, stats, got) = open_collect(dir, o);
    assert_eq!(stats.records, 2 * calls);
    let ids: HashSet<u64> = got
        .iter()
        .map(|r| u64::from_le_bytes(r[..8].try_into().unwrap()))
        .collect();
    for t in 0..THREADS {
        for c in 0..CALLS {
            let id = t * 1_000_000 + c;
            assert!(ids.contains(&id) && ids.contains(&(id + 500_000)), "missing {id}");
        }
    }
    // Per thread, records are in call order and each call's pair is adjacent.
    for pair in got.chunks(2) {
        let a = u64::from_le_bytes(pair[0][..8].try_into().unwrap());
        let b = u64::from_le_bytes(pair[1][..8].try_into().unwrap());
        assert_eq!(b, a + 500_000);
    }
}

#[test]
fn sync_and_cut_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (wal, _, _) = open_collect(dir, opts(1 << 20));
    let f0 = wal.stats().fsyncs;
    wal.sync().unwrap();
    assert_eq!(wal.stats().fsyncs, f0, "nothing to sync");
    wal.log(&[b"a"]).unwrap();
    wal.sync().unwrap();
    assert_eq!(wal.stats().fsyncs, f0 + 1);
    wal.sync().unwrap();
    assert_eq!(wal.stats().fsyncs, f0 + 1);
    assert_eq!(wal.cut_segment().unwrap(), 1);
    assert_eq!(wal.cut_segment().unwrap(), 2);
    assert_eq!(wal.segment_range().unwrap(), (1, 3));
    wal.log(&[b"b"]).unwrap();
    drop(wal);
    let (_, stats, got) = open_collect(dir, opts(1 << 20));
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(stats.segments, 3);
}

#[test]
fn wal_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wal>();
    check::<WalError>();
}
