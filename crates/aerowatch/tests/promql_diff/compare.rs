//! Comparing two answers of the query API.
//!
//! - Both fail: equal when the `errorType`s are (messages may differ).
//! - One fails: different.
//! - Both succeed: same `resultType`; the same label sets; per series the
//!   same timestamps and values equal within [`REL_TOLERANCE`] (NaN equals
//!   NaN, infinities equal themselves).
//! - Order is compared only where Prometheus defines it: instant vectors
//!   whose outermost operation is `sort`, `sort_desc`, or `topk`/`bottomk`
//!   without grouping (compared as the sequence of values, so that ties may
//!   come in any order), and range-query matrices (sorted by labels).
use std::collections::BTreeMap;

use serde_json::Value;

/// Values are equal when `|a - b| <= REL_TOLERANCE * max(|a|, |b|)`.
pub const REL_TOLERANCE: f64 = 1e-9;

type Labels = Vec<(String, String)>;
/// Series as (labels, points of (seconds, value)).
type SeriesList = Vec<(Labels, Vec<(f64, f64)>)>;
/// Instant samples as (labels, (seconds, value)).
type SampleList = Vec<(Labels, (f64, f64))>;

/// What a query's answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Instant,
    Range,
}

fn parse_value(v: &Value) -> Option<f64> {
    match v.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// Float equality as the suite defines it.
pub fn values_equal(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= REL_TOLERANCE * a.abs().max(b.abs())
}

fn labels(m: &Value) -> Labels {
    let mut l: Labels = m
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    l.sort();
    l
}

fn fmt_labels(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn point(p: &Value) -> Result<(f64, f64), String> {
    let t = p
        .get(0)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("bad point {p}"))?;
    let v = p.get(1).and_then(parse_value).ok_or_else(|| format!("bad value {p}"))?;
    Ok((t, v))
}

fn points_equal(a: &[(f64, f64)], b: &[(f64, f64)]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} points vs {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(b) {
        if (x.0 - y.0).abs() > 1e-6 {
            return Err(format!("timestamp {} vs {}", x.0, y.0));
        }
        if !values_equal(x.1, y.1) {
            return Err(format!("at {}: {} vs {}", x.0, x.1, y.1));
        }
    }
    Ok(())
}

/// True when Prometheus defines the order of this expression's instant
/// vector: the outermost call is `sort`/`sort_desc`, or `topk`/`bottomk`
/// with no `by`/`without`.
pub fn order_defined(expr: &str) -> bool {
    let mut e = expr.trim();
    while e.starts_with('(') && e.ends_with(')') && balanced_outer(e) {
        e = e[1..e.len() - 1].trim();
    }
    let Some(open) = e.find('(') else { return false };
    let head = e[..open].trim();
    if !e.ends_with(')') || !balanced_outer(&e[open..]) {
        return false;
    }
    matches!(head, "sort" | "sort_desc" | "topk" | "bottomk")
}

/// Whether `s` (starting with `(`) is one parenthesised group.
fn balanced_outer(s: &str) -> bool {
    let mut depth = 0i32;
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_str = Some(c),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i != s.len() - 1 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Compares Prometheus's answer (`want`) with Aerowatch's (`got`).
pub fn compare(expr: &str, kind: Kind, want: &(u16, String), got: &(u16, String)) -> Result<(), String> {
    let w: Value = serde_json::from_str(&want.1).map_err(|_| format!("Prometheus answered {} {}", want.0, want.1))?;
    let g: Value = match serde_json::from_str(&got.1) {
        Ok(v) => v,
        Err(_) => return Err(format!("Aerowatch answered {} {:?} (not JSON)", got.0, got.1)),
    };
    let (ws, gs) = (w["status"].as_str().unwrap_or(""), g["status"].as_str().unwrap_or(""));
    if ws == "error" || gs == "error" {
        if ws == gs {
            if w["errorType"] == g["errorType"] {
                return Ok(());
            }
            return Err(format!("error types differ: {} vs {}", w["errorType"], g["errorType"]));
        }
        return Err(if ws == "error" {
            "Prometheus failed, Aerowatch succeeded".into()
        } else {
            "Aerowatch failed, Prometheus succeeded".into()
        });
    }
    if want.0 != got.0 {
        return Err(format!("HTTP status {} vs {}", want.0, got.0));
    }
    let (wd, gd) = (&w["data"], &g["data"]);
    let (wt, gt) = (
        wd["resultType"].as_str().unwrap_or(""),
        gd["resultType"].as_str().unwrap_or(""),
    );
    if wt != gt {
        return Err(format!("result type {wt} vs {gt}"));
    }
    let (wr, gr) = (&wd["result"], &gd["result"]);
    match wt {
        "scalar" => points_equal(&[point(wr)?], &[point(gr)?]),
        "string" => {
            if wr == gr {
                Ok(())
            } else {
                Err(format!("string {wr} vs {gr}"))
            }
        }
        "vector" => compare_vectors(expr, kind, wr, gr),
        "matrix" => compare_matrices(kind, wr, gr),
        other => Err(format!("unknown result type {other}")),
    }
}

fn compare_vectors(expr: &str, kind: Kind, w: &Value, g: &Value) -> Result<(), String> {
    let parse = |v: &Value| -> Result<SampleList, String> {
        v.as_array()
            .ok_or("result is not an array")?
            .iter()
            .map(|s| Ok((labels(&s["metric"]), point(&s["value"])?)))
            .collect()
    };
    let (wv, gv) = (parse(w)?, parse(g)?);
    compare_sets(
        wv.iter().map(|(l, p)| (l.clone(), vec![*p])).collect(),
        gv.iter().map(|(l, p)| (l.clone(), vec![*p])).collect(),
    )?;
    if kind == Kind::Instant && order_defined(expr) {
        let a: Vec<(f64, f64)> = wv.iter().map(|x| x.1).collect();
        let b: Vec<(f64, f64)> = gv.iter().map(|x| x.1).collect();
        points_equal(&a, &b).map_err(|e| {
            let order = |v: &[(Labels, (f64, f64))]| {
                v.iter()
                    .map(|(l, p)| format!("{}={}", fmt_labels(l), p.1))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            format!("order differs ({e}): {} vs {}", order(&wv), order(&gv))
        })?;
    }
    Ok(())
}

fn compare_matrices(kind: Kind, w: &Value, g: &Value) -> Result<(), String> {
    let parse = |v: &Value| -> Result<SeriesList, String> {
        v.as_array()
            .ok_or("result is not an array")?
            .iter()
            .map(|s| {
                let pts = s["values"]
                    .as_array()
                    .ok_or("values is not an array")?
                    .iter()
                    .map(point)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((labels(&s["metric"]), pts))
            })
            .collect()
    };
    let (wm, gm) = (parse(w)?, parse(g)?);
    let order = |m: &[(Labels, Vec<(f64, f64)>)]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    let (wo, go) = (order(&wm), order(&gm));
    compare_sets(wm, gm)?;
    if kind == Kind::Range && wo != go {
        return Err("series order differs (Prometheus sorts range results by labels)".into());
    }
    Ok(())
}

fn compare_sets(w: SeriesList, g: SeriesList) -> Result<(), String> {
    let (wn, gn) = (w.len(), g.len());
    let wm: BTreeMap<Labels, Vec<(f64, f64)>> = w.into_iter().collect();
    let gm: BTreeMap<Labels, Vec<(f64, f64)>> = g.into_iter().collect();
    if wm.len() != wn || gm.len() != gn {
        return Err(format!(
            "duplicate label sets ({wn} → {} vs {gn} → {})",
            wm.len(),
            gm.len()
        ));
    }
    let missing: Vec<String> = wm.keys().filter(|k| !gm.contains_key(*k)).map(fmt_labels).collect();
    let extra: Vec<String> = gm.keys().filter(|k| !wm.contains_key(*k)).map(fmt_labels).collect();
    if !missing.is_empty() || !extra.is_empty() {
        let cut = |v: Vec<String>| {
            let n = v.len();
            let mut s: Vec<String> = v.into_iter().take(3).collect();
            if n > 3 {
                s.push(format!("… {} more", n - 3));
            }
            s.join(" ")
        };
        return Err(format!(
            "series differ: {wn} vs {gn}; missing [{}] extra [{}]",
            cut(missing),
            cut(extra)
        ));
    }
    for (l, wp) in &wm {
        points_equal(wp, &gm[l]).map_err(|e| format!("{}: {e}", fmt_labels(l)))?;
    }
    Ok(())
}

/// The values of an answer per timestamp, sorted: what must agree when
/// `topk`/`bottomk` meet ties, where Prometheus picks among equal values in
/// an order that depends on Go's map iteration (it is not deterministic).
fn values_by_time(body: &str) -> Option<BTreeMap<i64, Vec<f64>>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let mut out: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    let mut add = |p: &Value| -> Option<()> {
        let (t, v) = point(p).ok()?;
        out.entry((t * 1000.0).round() as i64).or_default().push(v);
        Some(())
    };
    for s in v["data"]["result"].as_array()? {
        if let Some(values) = s["values"].as_array() {
            for p in values {
                add(p)?;
            }
        } else {
            add(&s["value"])?;
        }
    }
    for vals in out.values_mut() {
        vals.sort_by(|a, b| a.total_cmp(b));
    }
    Some(out)
}

/// Compares two successful answers as multisets of values per timestamp
/// (labels ignored); for `topk`/`bottomk` with ties.
pub fn compare_ignoring_ties(want: &(u16, String), got: &(u16, String)) -> Result<(), String> {
    let (Some(w), Some(g)) = (values_by_time(&want.1), values_by_time(&got.1)) else {
        return Err("not comparable as values".into());
    };
    if w.len() != g.len() {
        return Err(format!("{} timestamps vs {}", w.len(), g.len()));
    }
    for ((tw, vw), (tg, vg)) in w.iter().zip(&g) {
        if tw != tg || vw.len() != vg.len() || vw.iter().zip(vg).any(|(a, b)| !values_equal(*a, *b)) {
            return Err(format!("values at {tw} differ: {vw:?} vs {vg:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_defined_only_for_outermost_sorts() {
        assert!(order_defined("sort(up)"));
        assert!(order_defined("(sort_desc(rate(x[5m])))"));
        assert!(order_defined("topk(3, up)"));
        assert!(!order_defined("topk by (job) (3, up)"));
        assert!(!order_defined("topk(3, up) by (job)"));
        assert!(!order_defined("sort(up) + 1"));
        assert!(!order_defined("(sort(up)) + (sort(up))"));
        assert!(!order_defined("up"));
    }

    fn ok(body: &str) -> (u16, String) {
        (200, body.to_string())
    }

    #[test]
    fn answers_that_differ_are_caught() {
        let v = |val: &str| {
            ok(&format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"a":"1"}},"value":[1,"{val}"]}},{{"metric":{{"a":"2"}},"value":[1,"5"]}}]}}}}"#
            ))
        };
        assert!(compare("x", Kind::Instant, &v("1"), &v("1")).is_ok());
        assert!(compare("x", Kind::Instant, &v("1"), &v("1.000000001")).is_err());
        assert!(compare("x", Kind::Instant, &v("NaN"), &v("NaN")).is_ok());
        assert!(compare("x", Kind::Instant, &v("NaN"), &v("+Inf")).is_err());
        // Order matters only for sorts.
        let swapped = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"2"},"value":[1,"5"]},{"metric":{"a":"1"},"value":[1,"1"]}]}}"#,
        );
        assert!(compare("x", Kind::Instant, &v("1"), &swapped).is_ok());
        assert!(compare("sort(x)", Kind::Instant, &v("1"), &swapped).is_err());
        // Labels, result types, timestamps and errors.
        let other = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"3"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"5"]}]}}"#,
        );
        assert!(compare("x", Kind::Instant, &v("1"), &other).is_err());
        assert!(compare_ignoring_ties(&v("1"), &other).is_ok());
        let scalar = ok(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#);
        assert!(compare("x", Kind::Instant, &v("1"), &scalar).is_err());
        let m = |t: &str| {
            ok(&format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[1,"1"],[{t},"2"]]}}]}}}}"#
            ))
        };
        assert!(compare("x", Kind::Range, &m("2"), &m("2")).is_ok());
        assert!(compare("x", Kind::Range, &m("2"), &m("3")).is_err());
        let bad = (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#.to_string(),
        );
        let exec = (
            422,
            r#"{"status":"error","errorType":"execution","error":"y"}"#.to_string(),
        );
        assert!(compare("x", Kind::Instant, &bad, &bad).is_ok());
        assert!(compare("x", Kind::Instant, &bad, &exec).is_err());
        assert!(compare("x", Kind::Instant, &bad, &v("1")).is_err());
        assert!(compare("x", Kind::Instant, &v("1"), &exec).is_err());
    }

    #[test]
    fn values_compare_with_tolerance() {
        assert!(values_equal(f64::NAN, f64::NAN));
        assert!(values_equal(f64::INFINITY, f64::INFINITY));
        assert!(!values_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(values_equal(1.0, 1.0 + 1e-12));
        assert!(!values_equal(1.0, 1.0 + 1e-6));
        assert!(!values_equal(0.0, f64::NAN));
    }
}
