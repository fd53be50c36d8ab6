//! Runs every rule group on its interval, and swaps groups on reload
//! keeping the state of rules that did not change.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alerting::AlertingRule;
use crate::group::{EvalContext, Group, Rule, RuleEntry};
use crate::recording::RecordingRule;
use crate::rulefile::GroupDef;

/// A group as loaded: where it came from and its definition.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// File name (or a pseudo-file like `preset:openaero`).
    pub file: String,
    /// The definition.
    pub def: GroupDef,
}

struct Running {
    group: Arc<Mutex<Group>>,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// The rule manager.
pub struct Manager {
    ctx: Arc<EvalContext>,
    default_interval_ms: i64,
    running: Mutex<Vec<Running>>,
    /// False until the first load: only then is alert state restored.
    loaded_once: Mutex<bool>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// When a group with this key evaluates, so that groups spread over the
/// interval instead of all running at once (Prometheus' `EvalTimestamp`).
fn offset_ms(file: &str, name: &str, interval_ms: i64) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (file, name).hash(&mut h);
    (h.finish() % interval_ms.max(1) as u64) as i64
}

fn build_group(spec: &GroupSpec, default_interval_ms: i64, restore: bool) -> Result<Group, String> {
    let interval_ms = spec
        .def
        .interval
        .map(|d| d.as_millis())
        .unwrap_or(default_interval_ms)
        .max(1);
    let mut rules = Vec::with_capacity(spec.def.rules.len());
    for r in &spec.def.rules {
        let rule = match (&r.record, &r.alert) {
            (Some(name), None) => Rule::Recording(RecordingRule {
                name: name.clone(),
                expr: r.expr.clone(),
                labels: r.labels.clone(),
            }),
            (None, Some(name)) => Rule::Alerting(AlertingRule::new(
                name.clone(),
                r.expr.clone(),
                r.hold().as_millis() as i64,
                r.keep_firing().as_millis() as i64,
                r.labels.clone(),
                r.annotations.clone(),
                !restore,
            )),
            _ => {
                return Err(format!(
                    "group {:?}: rule {:?} is neither recording nor alerting",
                    spec.def.name,
                    r.name()
                ))
            }
        };
        rules.push(RuleEntry::new(rule)?);
    }
    Ok(Group {
        name: spec.def.name.clone(),
        file: spec.file.clone(),
        interval_ms,
        limit: spec.def.limit,
        rules,
        last_eval_ms: None,
        eval_seconds: 0.0,
        should_restore: restore,
    })
}

impl Manager {
    /// A manager with no groups; `default_interval` is `global.evaluation_interval`.
    pub fn new(ctx: EvalContext, default_interval: Duration) -> Manager {
        Manager {
            ctx: Arc::new(ctx),
            default_interval_ms: default_interval.as_millis() as i64,
            running: Mutex::new(Vec::new()),
            loaded_once: Mutex::new(false),
        }
    }

    /// The evaluation context (for the API: templater, external URL).
    pub fn context(&self) -> &Arc<EvalContext> {
        &self.ctx
    }

    /// Replaces the running groups with `specs`. A group with the same file
    /// and name as before takes over the alerts of its unchanged rules, so a
    /// reload neither resets `for` nor re-sends anything. Must be called
    /// from within a tokio runtime.
    pub fn update(&self, specs: Vec<GroupSpec>) -> Result<(), String> {
        let restore = {
            let mut once = self.loaded_once.lock();
            let first = !*once;
            *once = true;
            first
        };
        let mut fresh = Vec::with_capacity(specs.len());
        for spec in &specs {
            fresh.push(build_group(spec, self.default_interval_ms, restore)?);
        }
        let mut running = self.running.lock();
        let old: HashMap<(String, String), Arc<Mutex<Group>>> = running
            .iter()
            .map(|r| {
                let g = r.group.lock();
                ((g.file.clone(), g.name.clone()), r.group.clone())
            })
            .collect();
        for g in &mut fresh {
            if let Some(prev) = old.get(&(g.file.clone(), g.name.clone())) {
                let prev = prev.lock();
                for entry in &mut g.rules {
                    let Rule::Alerting(new_rule) = &mut entry.rule else {
                        continue;
                    };
                    let same = prev.rules.iter().find_map(|p| match &p.rule {
                        Rule::Alerting(old_rule) if old_rule.same_definition(new_rule) => Some(old_rule),
                        _ => None,
                    });
                    if let Some(old_rule) = same {
                        new_rule.copy_state(old_rule);
                    }
                }
            }
        }
        for r in running.drain(..) {
            let _ = r.stop.send(true);
            r.task.abort();
        }
        for g in fresh {
            running.push(self.spawn(g));
        }
        Ok(())
    }

    fn spawn(&self, group: Group) -> Running {
        let (stop, mut stopped) = watch::channel(false);
        let interval_ms = group.interval_ms;
        let offset = offset_ms(&group.file, &group.name, interval_ms);
        let group = Arc::new(Mutex::new(group));
        let ctx = self.ctx.clone();
        let g = group.clone();
        let task = tokio::spawn(async move {
            let mut next = next_tick(now_ms(), interval_ms, offset);
            let mut evaluations = 0u32;
            loop {
                let wait = (next - now_ms()).max(0) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    _ = stopped.changed() => return,
                }
                Group::eval(&g, next, &ctx).await;
                evaluations += 1;
                // As Prometheus: restore after the second evaluation, once
                // the first results no longer rest on a half-filled window.
                if evaluations >= 2 && g.lock().should_restore {
                    g.lock().restore_for_state(now_ms(), &ctx);
                }
                ctx.metrics.iterations.fetch_add(1, Ordering::Relaxed);
                let after = next_tick(now_ms(), interval_ms, offset);
                let missed = (after - next) / interval_ms - 1;
                if missed > 0 {
                    ctx.metrics
                        .iterations_missed
                        .fetch_add(missed as u64, Ordering::Relaxed);
                    tracing::warn!(group = %g.lock().name, missed, "rule group evaluation took longer than its interval");
                }
                next = after;
            }
        });
        Running { group, task, stop }
    }

    /// A copy of every group's state, in load order, for the API.
    pub fn groups(&self) -> Vec<Group> {
        self.running.lock().iter().map(|r| r.group.lock().clone()).collect()
    }

    /// Evaluates every group once at `ts`, now, outside its schedule (tests
    /// and the `aerowatch` benchmarks drive evaluation with this).
    pub async fn eval_all_at(&self, ts: i64) {
        let groups: Vec<Arc<Mutex<Group>>> = self.running.lock().iter().map(|r| r.group.clone()).collect();
        for g in groups {
            Group::eval(&g, ts, &self.ctx).await;
            if g.lock().should_restore {
                g.lock().restore_for_state(ts, &self.ctx);
            }
        }
    }

    /// Stops every group.
    pub fn stop(&self) {
        for r in self.running.lock().drain(..) {
            let _ = r.stop.send(true);
            r.task.abort();
        }
    }

    /// `prometheus_rule_*` families in the text exposition format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let m = &self.ctx.metrics;
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            out,
            "prometheus_rule_evaluations_total",
            "The total number of rule evaluations.",
            m.evaluations.load(Ordering::Relaxed),
        );
        counter(
            out,
            "prometheus_rule_evaluation_failures_total",
            "The total number of rule evaluation failures.",
            m.failures.load(Ordering::Relaxed),
        );
        counter(
            out,
            "prometheus_rule_group_iterations_total",
            "The total number of scheduled rule group evaluations.",
            m.iterations.load(Ordering::Relaxed),
        );
        counter(
            out,
            "prometheus_rule_group_iterations_missed_total",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            m.iterations_missed.load(Ordering::Relaxed),
        );
        counter(
            out,
            "aerowatch_rule_samples_refused_total",
            "Rule output samples the store refused (out of order or duplicate).",
            m.samples_refused.load(Ordering::Relaxed),
        );
        let groups = self.groups();
        let mut gauge = |name: &str, help: &str, value: &dyn Fn(&Group) -> Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for g in &groups {
                if let Some(v) = value(g) {
                    let key = format!("{};{}", g.file, g.name);
                    let _ = writeln!(out, "{name}{{rule_group={key:?}}} {v}");
                }
            }
        };
        gauge(
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds.",
            &|g| g.last_eval_ms.map(|t| t as f64 / 1000.0),
        );
        gauge(
            "prometheus_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation.",
            &|g| Some(g.eval_seconds),
        );
        gauge(
            "prometheus_rule_group_interval_seconds",
            "The interval of a rule group.",
            &|g| Some(g.interval_ms as f64 / 1000.0),
        );
        gauge("prometheus_rule_group_rules", "The number of rules.", &|g| {
            Some(g.rules.len() as f64)
        });
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first evaluation time after `now` for a group with this interval and offset.
fn next_tick(now: i64, interval: i64, offset: i64) -> i64 {
    let base = (now - offset).div_euclid(interval) * interval + offset;
    if base <= now {
        base + interval
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_aligned_to_the_interval_plus_the_group_offset() {
        assert_eq!(next_tick(1_000, 15_000, 2_000), 2_000);
        assert_eq!(next_tick(2_000, 15_000, 2_000), 17_000);
        assert_eq!(next_tick(16_999, 15_000, 2_000), 17_000);
        let o = offset_ms("f", "g", 15_000);
        assert!((0..15_000).contains(&o));
        assert_eq!(o, offset_ms("f", "g", 15_000), "stable");
    }
}
