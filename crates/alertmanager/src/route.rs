//! The routing tree (`dispatch/route.go`): which nodes an alert ends at, with
//! what effective options, and the route keys that name aggregation groups.

use std::collections::BTreeSet;
use std::time::Duration;

use model::Labels;

use crate::config::RouteConfig;
use crate::matchers::{format_matchers, matches_all, Matcher};

/// Options of a node after inheritance from its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    /// Receiver notified for alerts ending at this node.
    pub receiver: String,
    /// Labels to group by.
    pub group_by: BTreeSet<String>,
    /// Group by all labels (`group_by: ['...']`).
    pub group_by_all: bool,
    /// Wait before the first notification of a new group.
    pub group_wait: Duration,
    /// Wait between notifications for a group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// Named intervals muting this node (not inherited, as in Alertmanager).
    pub mute_time_intervals: Vec<String>,
    /// Named intervals outside of which this node is muted (not inherited).
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    /// Alertmanager's `DefaultRouteOpts`.
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct RouteNode {
    /// Index in [`Route::nodes`] (depth-first pre-order; the root is 0).
    pub index: usize,
    /// Parent index.
    pub parent: Option<usize>,
    /// Position among the parent's children.
    pub position: Option<usize>,
    /// Child indices in order.
    pub children: Vec<usize>,
    /// The node's own matchers, sorted.
    pub matchers: Vec<Matcher>,
    /// Keep matching siblings after this node matched.
    pub continue_matching: bool,
    /// Effective options.
    pub opts: RouteOpts,
    key: String,
    id: String,
}

impl RouteNode {
    /// Alertmanager's `Route.Key()`: the matchers of every node from the root
    /// down, e.g. `{}/{severity="critical"}`. Not unique in general (two
    /// siblings may have equal matchers); it is what group keys are built
    /// from, so it stays stable across restarts and config reloads.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Alertmanager's `Route.ID()`: the key plus the node's position among its
    /// siblings, e.g. `{}/{severity="critical"}/0`; unique within a tree.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The labels an alert is grouped by at this node.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        if self.opts.group_by_all {
            return labels.clone();
        }
        let mut b = model::LabelsBuilder::new();
        for l in labels.iter().filter(|l| self.opts.group_by.contains(l.name.as_str())) {
            b.set(l.name.clone(), l.value.clone());
        }
        b.build()
    }
}

/// A routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    nodes: Vec<RouteNode>,
}

impl Route {
    /// Builds the tree from the validated config's root route, applying
    /// Alertmanager's inheritance: receiver, group_by and the three timers
    /// are inherited when unset; time intervals are not.
    pub fn new(root: &RouteConfig) -> Route {
        let mut nodes = Vec::new();
        build(root, None, None, &RouteOpts::default(), &mut nodes);
        Route { nodes }
    }

    /// The root node.
    pub fn root(&self) -> &RouteNode {
        &self.nodes[0]
    }

    /// Every node in depth-first pre-order (Alertmanager's `Walk`).
    pub fn nodes(&self) -> &[RouteNode] {
        &self.nodes
    }

    /// The node at `index`.
    pub fn node(&self, index: usize) -> Option<&RouteNode> {
        self.nodes.get(index)
    }

    /// Depth-first, left-to-right search for the nodes an alert ends at: a
    /// node matches when its matchers do; its children are tried in order,
    /// stopping after the first match unless that child has `continue`; a
    /// node none of whose children match is itself the result.
    pub fn matches(&self, labels: &Labels) -> Vec<&RouteNode> {
        let mut out = Vec::new();
        self.match_node(0, labels, &mut out);
        out
    }

    fn match_node<'a>(&'a self, idx: usize, labels: &Labels, out: &mut Vec<&'a RouteNode>) -> bool {
        let node = &self.nodes[idx];
        if !matches_all(&node.matchers, labels) {
            return false;
        }
        let before = out.len();
        for &child in &node.children {
            let matched = self.match_node(child, labels, out);
            if matched && !self.nodes[child].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(node);
        }
        true
    }

    /// The receivers an alert would be sent to, in match order.
    pub fn receivers_for(&self, labels: &Labels) -> Vec<String> {
        self.matches(labels)
            .into_iter()
            .map(|n| n.opts.receiver.clone())
            .collect()
    }
}

fn build(
    cr: &RouteConfig,
    parent: Option<usize>,
    position: Option<usize>,
    parent_opts: &RouteOpts,
    nodes: &mut Vec<RouteNode>,
) -> usize {
    let mut opts = parent_opts.clone();
    if let Some(r) = cr.receiver.as_ref().filter(|r| !r.is_empty()) {
        opts.receiver = r.clone();
    }
    // Alertmanager only replaces group_by when named labels are given; `...`
    // switches to all labels; an empty list inherits.
    if let Some(gb) = &cr.group_by {
        let named: BTreeSet<String> = gb.iter().filter(|l| *l != "...").cloned().collect();
        if !named.is_empty() {
            opts.group_by = named;
            opts.group_by_all = false;
        } else if gb.iter().any(|l| l == "...") {
            opts.group_by_all = true;
        }
    }
    if let Some(d) = cr.group_wait {
        opts.group_wait = d.get();
    }
    if let Some(d) = cr.group_interval {
        opts.group_interval = d.get();
    }
    if let Some(d) = cr.repeat_interval {
        opts.repeat_interval = d.get();
    }
    opts.mute_time_intervals = cr.mute_time_intervals.clone();
    opts.active_time_intervals = cr.active_time_intervals.clone();

    let matchers = cr.all_matchers();
    let own = format_matchers(&matchers);
    let key = match parent {
        Some(p) => format!("{}/{}", nodes[p].key, own),
        None => own,
    };
    let id = match position {
        Some(pos) => format!("{key}/{pos}"),
        None => key.clone(),
    };
    let index = nodes.len();
    nodes.push(RouteNode {
        index,
        parent,
        position,
        children: Vec::new(),
        matchers,
        continue_matching: cr.continue_matching,
        opts: opts.clone(),
        key,
        id,
    });
    for (i, child) in cr.routes.iter().enumerate() {
        let c = build(child, Some(index), Some(i), &opts, nodes);
        nodes[index].children.push(c);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    // Alertmanager's dispatch/route_test.go TestRouteMatch tree.
    const TREE: &str = r#"
receiver: 'notify-def'

routes:
- match:
    owner: 'team-A'

  receiver: 'notify-A'

  routes:
  - match:
      env: 'testing'

    receiver: 'notify-testing'
    group_by: [...]

  - match:
      env: "production"

    receiver: 'notify-productionA'
    group_wait: 1m

    continue: true

  - match_re:
      env: "produ.*"
      job: ".*"

    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']

- match_re:
    owner: 'team-(B|C)'

  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'

- match:
    group_by: 'role'
  group_by: ['role']

  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m
"#;

    fn tree(src: &str) -> Route {
        let cfg: RouteConfig = serde_yaml::from_str(src).unwrap();
        Route::new(&cfg)
    }

    fn set(xs: &[&str]) -> BTreeSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    fn opts(receiver: &str, group_by: &[&str], all: bool, wait: u64, interval: u64, repeat: u64) -> RouteOpts {
        RouteOpts {
            receiver: receiver.into(),
            group_by: set(group_by),
            group_by_all: all,
            group_wait: Duration::from_secs(wait),
            group_interval: Duration::from_secs(interval),
            repeat_interval: Duration::from_secs(repeat),
            mute_time_intervals: vec![],
            active_time_intervals: vec![],
        }
    }

    #[test]
    fn route_match_table_from_alertmanager() {
        let t = tree(TREE);
        let (w, i, r) = (30, 300, 4 * 3600);
        type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<RouteOpts>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (
                vec![("owner", "team-A")],
                vec![opts("notify-A", &[], false, w, i, r)],
                vec![r#"{}/{owner="team-A"}"#],
            ),
            (
                vec![("owner", "team-A"), ("env", "unset")],
                vec![opts("notify-A", &[], false, w, i, r)],
                vec![r#"{}/{owner="team-A"}"#],
            ),
            (
                vec![("owner", "team-C")],
                vec![opts("notify-BC", &["foo", "bar"], false, 120, i, r)],
                vec![r#"{}/{owner=~"^(?:team-(B|C))$"}"#],
            ),
            (
                vec![("owner", "team-A"), ("env", "testing")],
                vec![opts("notify-testing", &[], true, w, i, r)],
                vec![r#"{}/{owner="team-A"}/{env="testing"}"#],
            ),
            (
                vec![("owner", "team-A"), ("env", "production")],
                vec![
                    opts("notify-productionA", &[], false, 60, i, r),
                    opts("notify-productionB", &["job"], false, 30, 300, 3600),
                ],
                vec![
                    r#"{}/{owner="team-A"}/{env="production"}"#,
                    r#"{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}"#,
                ],
            ),
            (
                vec![("group_by", "role")],
                vec![opts("notify-def", &["role"], false, w, i, r)],
                vec![r#"{}/{group_by="role"}"#],
            ),
            (
                vec![("env", "testing"), ("group_by", "role")],
                vec![opts("notify-testing", &["role"], false, w, i, r)],
                vec![r#"{}/{group_by="role"}/{env="testing"}"#],
            ),
            (
                vec![("env", "testing"), ("group_by", "role"), ("wait", "long")],
                vec![opts("notify-testing", &["role"], false, 120, i, r)],
                vec![r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#],
            ),
        ];
        for (labels, want_opts, want_keys) in cases {
            let l = Labels::from_pairs(labels.clone());
            let got = t.matches(&l);
            let got_opts: Vec<RouteOpts> = got.iter().map(|n| n.opts.clone()).collect();
            let got_keys: Vec<&str> = got.iter().map(|n| n.key()).collect();
            assert_eq!(got_opts, want_opts, "labels {labels:?}");
            assert_eq!(got_keys, want_keys, "labels {labels:?}");
        }
    }

    #[test]
    fn walk_order_is_depth_first() {
        let t = tree(TREE);
        let receivers: Vec<&str> = t.nodes().iter().map(|n| n.opts.receiver.as_str()).collect();
        assert_eq!(
            receivers,
            [
                "notify-def",
                "notify-A",
                "notify-testing",
                "notify-productionA",
                "notify-productionB",
                "notify-BC",
                "notify-def",
                "notify-testing",
                "notify-testing"
            ]
        );
    }

    #[test]
    fn ids_include_sibling_position() {
        let t = tree(TREE);
        assert_eq!(t.root().id(), "{}");
        assert_eq!(t.nodes()[1].id(), r#"{}/{owner="team-A"}/0"#);
        assert_eq!(t.nodes()[5].id(), r#"{}/{owner=~"^(?:team-(B|C))$"}/1"#);
    }

    #[test]
    fn inherit_group_by_all_and_new_matchers() {
        let t = tree(
            r#"
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  group_by: ['...']
  routes:
  - matchers: [env="child1"]
  - matchers: [env="child2"]
    group_by: ['foo']
"#,
        );
        assert!(t.nodes()[1].opts.group_by_all);
        assert!(t.nodes()[2].opts.group_by_all);
        assert!(!t.nodes()[3].opts.group_by_all);
        assert_eq!(t.nodes()[1].key(), r#"{}/{level!="critical",owner="team-A"}"#);
    }

    #[test]
    fn group_labels_follow_group_by() {
        let t = tree("group_by: [alertname, cluster]\nroutes:\n- matchers: [all=\"yes\"]\n  group_by: ['...']\n");
        let l = Labels::from_pairs([("alertname", "A"), ("cluster", "c1"), ("instance", "i")]);
        assert_eq!(
            t.root().group_labels(&l),
            Labels::from_pairs([("alertname", "A"), ("cluster", "c1")])
        );
        let l2 = Labels::from_pairs([("all", "yes"), ("x", "1")]);
        let n = t.matches(&l2)[0];
        assert_eq!(n.group_labels(&l2), l2);
    }

    #[test]
    fn time_intervals_are_not_inherited() {
        let t = tree(
            "receiver: r\nroutes:\n- matchers: [a=b]\n  mute_time_intervals: [night]\n  routes:\n  - matchers: [c=d]\n",
        );
        assert_eq!(t.nodes()[1].opts.mute_time_intervals, ["night"]);
        assert!(t.nodes()[2].opts.mute_time_intervals.is_empty());
        assert_eq!(t.nodes()[2].opts.receiver, "r");
    }
}
