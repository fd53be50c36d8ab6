//! The web UI in a real browser (Debian's headless Chromium through
//! chromedriver): every page renders without console errors, a chart plots
//! exactly what the query API answers, a silence made and expired by clicks
//! shows in Alertmanager's API, and the OpenAero design's §6.1 Grafana JSON
//! imports and renders its four panels with data. Screenshots of every page
//! land in `target/ui-screenshots/`.
mod common;

use std::time::Duration;

use common::browser::{artifacts_dir, Browser};
use common::capture::Capture;
use common::{client, urlencode, wait_for, Server};
use serde_json::{json, Value};

/// What a prom-client app exposes: request counters and a latency histogram
/// by route and status, and the design's business counters.
fn app_metrics(n: u64) -> String {
    let mut out = String::new();
    out.push_str("# TYPE http_requests_total counter\n");
    for (route, code, per) in [("/", "200", 10), ("/api/orders", "200", 4), ("/api/orders", "500", 1)] {
        out.push_str(&format!(
            "http_requests_total{{method=\"GET\",route=\"{route}\",status_code=\"{code}\"}} {}\n",
            n * per
        ));
    }
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (le, per) in [("0.05", 8), ("0.1", 4), ("0.5", 2), ("1", 1), ("+Inf", 0)] {
        cumulative += n * per;
        out.push_str(&format!(
            "http_request_duration_seconds_bucket{{route=\"/\",le=\"{le}\"}} {cumulative}\n"
        ));
    }
    out.push_str(&format!(
        "http_request_duration_seconds_sum{{route=\"/\"}} {}\nhttp_request_duration_seconds_count{{route=\"/\"}} {cumulative}\n",
        n as f64 * 1.7
    ));
    out.push_str(&format!(
        "# TYPE user_registrations_total counter\nuser_registrations_total {}\n# TYPE orders_created_total counter\norders_created_total {}\n",
        n * 2,
        n * 3
    ));
    out
}

/// The design's §6.1 dashboard JSON, verbatim.
const SEED_DASHBOARD: &str = r#"{"dashboard":{"title":"OpenAero Monitoring Dashboard","panels":[{"title":"系统可用性","type":"stat","targets":[{"expr":"avg(availability) * 100","legendFormat":"可用性 %"}],"thresholds":[{"value":0,"color":"red"},{"value":95,"color":"yellow"},{"value":99,"color":"green"}]},{"title":"响应时间","type":"graph","targets":[{"expr":"histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))","legendFormat":"95th percentile"},{"expr":"histogram_quantile(0.50, rate(http_request_duration_seconds_bucket[5m]))","legendFormat":"50th percentile"}]},{"title":"错误率","type":"graph","targets":[{"expr":"rate(http_requests_total{status_code=~\"5..\"}[5m]) / rate(http_requests_total[5m]) * 100","legendFormat":"错误率 %"}]},{"title":"业务指标","type":"graph","targets":[{"expr":"rate(user_registrations_total[1h])","legendFormat":"用户注册/小时"},{"expr":"rate(orders_created_total[1h])","legendFormat":"订单创建/小时"}]}]}}"#;

fn shot(browser: &Browser, name: &str) {
    browser.screenshot(&artifacts_dir().join(format!("{name}.png")));
}

#[test]
fn the_ui_renders_live_data_and_drives_the_apis() {
    let Some(browser) = Browser::start() else { return };
    let app = Capture::start();
    // The app's counters grow with every scrape, as a live app's would.
    let answers: Vec<String> = (1..400).map(app_metrics).collect();
    let answers: Vec<(u16, &str)> = answers.iter().map(|a| (200, a.as_str())).collect();
    app.set_answer("/metrics", &answers);
    app.set_answer("/health", &[(200, "{\"status\":\"healthy\"}")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/always.yml"),
        "groups:\n  - name: ui\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1)\n        labels: { severity: info }\n        annotations: { summary: for the UI test }\n",
    )
    .unwrap();
    let config = format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [ \"rules/*.yml\" ]
presets: [ openaero ]
scrape_configs:
  - job_name: web
    static_configs: [ {{ targets: [ \"127.0.0.1:{}\" ] }} ]
checks:
  - name: web
    http: {{ url: \"{}\" }}
    interval: 1s
    timeout: 500ms
",
        app.port,
        app.url("/health")
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    wait_for("a few scrapes and rule rounds", Duration::from_secs(20), || {
        let v = s.get_json("/api/v1/query?query=count_over_time(availability%5B1m%5D)%20%3E%3D%205");
        (!v["data"]["result"].as_array()?.is_empty()).then_some(())
    });

    // Every page renders without a console error or warning.
    for (name, path) in [
        ("overview", "/"),
        ("explore", "/explore?q=up"),
        ("alerts", "/alerts"),
        ("health", "/health"),
        ("targets", "/targets"),
        ("dashboards", "/dashboards"),
        ("status", "/status"),
    ] {
        browser.goto(&s.url(path));
        browser.wait_ready();
        shot(&browser, name);
        let problems = browser.console_problems();
        assert!(problems.is_empty(), "{path}: console says {problems:?}");
    }

    // The overview's availability stat shows the recorded availability.
    browser.goto(&s.url("/"));
    browser.wait_ready();
    let stat = browser.wait_for(
        "the availability stat",
        "const p = [...document.querySelectorAll('.aw-panel')].find(p => p.dataset.type === 'stat');
         const v = p && p.querySelector('.aw-stat-value');
         return v && /\\d/.test(v.textContent) ? v.textContent : null;",
        Duration::from_secs(10),
    );
    assert!(stat.as_str().unwrap().contains("100"), "availability is 100%: {stat}");

    // A chart plots exactly what the query API answers for its expression.
    let expr = "sum by (route) (rate(http_requests_total[1m]))";
    // The page draws what exists when it loads: wait for a few points first.
    wait_for("a few points of the explored series", Duration::from_secs(30), || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let v = s.get_json(&format!(
            "/api/v1/query_range?query={}&start={}&end={now}&step=1",
            urlencode(expr),
            now - 300
        ));
        let r = v["data"]["result"].as_array()?.clone();
        (r.len() == 2 && r.iter().all(|s| s["values"].as_array().is_some_and(|v| v.len() >= 12))).then_some(())
    });
    browser.goto(&s.url(&format!("/explore?q={}&range=5m", urlencode(expr))));
    browser.wait_ready();
    let chart = browser.wait_for(
        "the explore chart",
        "const c = document.querySelector('.aw-chart');
         if (!c) return null;
         const s = JSON.parse(c.dataset.series || '[]');
         return s.length === 2 && s.every(x => x.points.length >= 5)
           ? { series: s, start: c.dataset.start, end: c.dataset.end, step: c.dataset.step } : null;",
        Duration::from_secs(15),
    );
    let series = chart["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "two routes: {chart}");
    // The same range query, asked of the API directly.
    let api = s.get_json(&format!(
        "/api/v1/query_range?query={}&start={}&end={}&step={}",
        urlencode(expr),
        chart["start"].as_str().unwrap(),
        chart["end"].as_str().unwrap(),
        chart["step"].as_str().unwrap()
    ));
    let result = api["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), series.len(), "{api}");
    for s_api in result {
        let route = s_api["metric"]["route"].as_str().unwrap();
        let mine = series
            .iter()
            .find(|p| p["labels"]["route"] == route)
            .unwrap_or_else(|| panic!("no plotted series for route {route}: {chart}"));
        let want: Vec<(f64, f64)> = s_api["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v[0].as_f64().unwrap(), v[1].as_str().unwrap().parse().unwrap()))
            .collect();
        let got: Vec<(f64, f64)> = mine["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        // Timestamps equal; values equal to 1e-9 relative, the differential
        // suite's tolerance: the app's counters grow linearly, so a sample
        // that lands between the page's query and this one moves a rate
        // only in its last bits, while any plotting mistake (another
        // series, shifted steps, a unit conversion) is far larger.
        assert_eq!(got.len(), want.len(), "route {route}: {got:?} vs {want:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0, "route {route}: timestamps");
            assert!(
                (g.1 - w.1).abs() <= 1e-9 * w.1.abs().max(1.0),
                "route {route} at {}: plotted {} vs /api/v1/query_range {}",
                g.0,
                g.1,
                w.1
            );
        }
    }

    // Hovering the plot shows the values and the series' names.
    let overlay = ".aw-chart svg .overlay";
    // Near the right edge: the data is only as old as the test.
    let half = browser.eval_on(overlay, "return arguments[0].getBoundingClientRect().width / 2;");
    browser.pointer_css(overlay, &[(half.as_f64().unwrap() as i64 - 4, None)]);
    let tip = browser.wait_for(
        "the hover tooltip",
        "const t = document.querySelector('.aw-chart .aw-tip');
         return t && !t.hidden && t.textContent.includes('/api/orders') ? t.textContent : null;",
        Duration::from_secs(5),
    );
    assert!(tip.as_str().unwrap().chars().any(|c| c.is_ascii_digit()), "{tip}");

    // The editor completes metric names.
    browser.eval_on("#aw-expr", "arguments[0].value = ''; arguments[0].focus();");
    let editor = browser.find("#aw-expr");
    browser.type_text(&editor, "http_req");
    let completions = browser.wait_for(
        "completions",
        "const l = document.querySelector('#aw-complete');
         return l && !l.hidden ? [...l.querySelectorAll('[role=option]')].map(o => o.textContent) : null;",
        Duration::from_secs(5),
    );
    assert!(
        completions
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("http_requests_total")),
        "{completions}"
    );

    // The legend toggles a series; dragging across the plot selects a time
    // range, which lands in the URL and reloads the page with it.
    let legend = ".aw-chart .aw-leg[data-i='0']";
    assert_eq!(
        browser.eval_on(legend, "return arguments[0].getAttribute('aria-pressed');"),
        "true"
    );
    browser.click_css(legend);
    assert_eq!(
        browser.eval_on(legend, "return arguments[0].getAttribute('aria-pressed');"),
        "false"
    );
    browser.pointer_css(overlay, &[(-200, Some(true)), (-50, None), (100, Some(false))]);
    let url = browser.wait_for(
        "a custom range in the URL",
        "return /[?&]from=\\d+/.test(location.search) && /[?&]to=\\d+/.test(location.search) ? location.search : null;",
        Duration::from_secs(10),
    );
    browser.wait_ready();
    let chart_range = browser.eval(
        "const c = document.querySelector('.aw-chart'); return c ? [c.dataset.start, c.dataset.end] : null;",
        json!([]),
    );
    let span: f64 = chart_range[1].as_str().unwrap().parse::<f64>().unwrap()
        - chart_range[0].as_str().unwrap().parse::<f64>().unwrap();
    assert!(
        span > 0.0 && span < 300.0,
        "the dragged range {url} is narrower than the 5 m before: {span} s"
    );

    // A silence made with one click shows in Alertmanager's API; expiring
    // it with another click ends it.
    browser.goto(&s.url("/alerts"));
    browser.wait_ready();
    browser.click_css("button[data-action='silence']");
    let silence = wait_for("the silence in /api/v2/silences", Duration::from_secs(10), || {
        let v = client()
            .get(s.url("/api/v2/silences"))
            .send()
            .ok()?
            .json::<Value>()
            .ok()?;
        v.as_array()?
            .iter()
            .find(|s| {
                s["status"]["state"] == "active"
                    && s["matchers"].as_array().is_some_and(|m| {
                        m.iter()
                            .any(|m| m["name"] == "alertname" && m["value"] == "AlwaysFiring")
                    })
            })
            .cloned()
    });
    assert_eq!(silence["createdBy"], "aerowatch-ui");
    let id = silence["id"].as_str().unwrap().to_string();
    shot(&browser, "alerts-silenced");
    browser.click_css(&format!("button[data-action='expire'][data-id='{id}']"));
    wait_for("the silence expired", Duration::from_secs(10), || {
        let v = client()
            .get(s.url(&format!("/api/v2/silence/{id}")))
            .send()
            .ok()?
            .json::<Value>()
            .ok()?;
        (v["status"]["state"] == "expired").then_some(())
    });

    // The design's §6.1 JSON, pasted into the import form, renders its four
    // panels with data.
    browser.goto(&s.url("/dashboards"));
    browser.wait_ready();
    browser.find("#aw-import-json");
    browser.eval(
        "const t = document.querySelector('#aw-import-json'); t.value = arguments[0]; t.dispatchEvent(new Event('input'));",
        json!([SEED_DASHBOARD]),
    );
    browser.click_css("form button[type='submit']");
    browser.click_css(".aw-import-result a");
    let panels = browser.wait_for(
        "four panels with data",
        "const ps = [...document.querySelectorAll('.aw-panel')];
         if (ps.length !== 4) return null;
         const withData = ps.filter(p => {
           const c = p.querySelector('.aw-chart');
           if (c) return JSON.parse(c.dataset.series || '[]').some(s => s.points.length > 0);
           const v = p.querySelector('.aw-stat-value');
           return v && /\\d/.test(v.textContent);
         });
         return withData.length === 4 ? ps.map(p => p.dataset.title + ':' + p.dataset.type) : null;",
        Duration::from_secs(15),
    );
    assert_eq!(
        panels,
        json!(["系统可用性:stat", "响应时间:graph", "错误率:graph", "业务指标:graph"])
    );
    shot(&browser, "dashboard-openaero");
    let problems = browser.console_problems();
    assert!(problems.is_empty(), "console says {problems:?}");
    // Template variables: a query variable's values come from the labels
    // API and are substituted into the panel's expression.
    let vars = r#"{"title":"Vars","templating":{"list":[{"name":"job","type":"query","query":"label_values(up, job)"},{"name":"window","type":"interval","query":"1m,5m"}]},"panels":[{"title":"Up","type":"timeseries","targets":[{"expr":"max_over_time(up{job=\"$job\"}[$window])","legendFormat":"{{instance}}"}]}]}"#;
    let imported: Value = client()
        .post(s.url("/api/v1/dashboards"))
        .body(vars)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let vars_id = imported["data"]["id"].as_str().unwrap().to_string();
    browser.goto(&s.url(&format!("/dashboards/{vars_id}")));
    browser.wait_ready();
    let options = browser.wait_for(
        "the job variable's values",
        "const sel = document.querySelector('select[data-var=\"job\"]');
         return sel && sel.options.length ? [...sel.options].map(o => o.value) : null;",
        Duration::from_secs(10),
    );
    assert_eq!(options, json!(["web"]));
    let plotted = browser.wait_for(
        "the Up panel",
        "const c = document.querySelector('.aw-panel .aw-chart');
         const s = c && JSON.parse(c.dataset.series || '[]');
         return s && s.length ? s.map(x => x.name) : null;",
        Duration::from_secs(10),
    );
    assert_eq!(
        plotted,
        json!([format!("127.0.0.1:{}", app.port)]),
        "legendFormat over the substituted query"
    );
    shot(&browser, "dashboard-variables");
    let problems = browser.console_problems();
    assert!(problems.is_empty(), "console says {problems:?}");

    // Gauges, bar gauges and tables draw one entry per result series.
    let kinds = r#"{"title":"Kinds","panels":[
      {"title":"G","type":"gauge","gridPos":{"x":0,"y":0,"w":8,"h":6},"targets":[{"expr":"sum by (route) (http_requests_total)","legendFormat":"{{route}}"}],"fieldConfig":{"defaults":{"unit":"short","min":0,"max":100000}}},
      {"title":"B","type":"bargauge","gridPos":{"x":8,"y":0,"w":8,"h":6},"targets":[{"expr":"sum by (route) (http_requests_total)","legendFormat":"{{route}}"}]},
      {"title":"T","type":"table","gridPos":{"x":16,"y":0,"w":8,"h":6},"targets":[{"expr":"sum by (route) (http_requests_total)"}]}]}"#;
    let imported: Value = client()
        .post(s.url("/api/v1/dashboards"))
        .body(kinds)
        .send()
        .unwrap()
        .json()
        .unwrap();
    browser.goto(&s.url(&format!("/dashboards/{}", imported["data"]["id"].as_str().unwrap())));
    browser.wait_ready();
    let drawn = browser.wait_for(
        "gauge, bar gauge and table entries",
        "const n = (sel) => document.querySelectorAll(sel).length;
         const counts = [n('.aw-panel[data-type=gauge] .aw-gauge'), n('.aw-panel[data-type=bargauge] .aw-bar-row'), n('.aw-panel[data-type=table] tbody tr')];
         return counts.every(c => c === 2) ? counts : null;",
        Duration::from_secs(10),
    );
    assert_eq!(drawn, json!([2, 2, 2]), "two routes in each");
    shot(&browser, "dashboard-kinds");

    // A syntax error in Explore is shown at its position.
    browser.goto(&s.url(&format!("/explore?q={}", urlencode("sum(rate(up[5m])"))));
    browser.wait_ready();
    let at = browser.wait_for(
        "the parse error",
        "const e = document.querySelector('.aw-query-error');
         return e ? [e.dataset.line, e.dataset.col] : null;",
        Duration::from_secs(10),
    );
    assert_eq!(at[0], "1", "{at}");
    assert!(at[1].as_str().unwrap().parse::<u32>().unwrap() > 1, "{at}");
    // The 400 of the failed query is the browser's own network message.
    let problems: Vec<String> = browser
        .console_problems()
        .into_iter()
        .filter(|p| !p.contains("status of 400"))
        .collect();
    assert!(problems.is_empty(), "console says {problems:?}");

    let listed = s.get_json("/api/v1/dashboards");
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["title"] == "OpenAero Monitoring Dashboard" && d["source"] == "imported"),
        "{listed}"
    );
}

#[test]
fn the_shell_and_assets_are_served_compressed_and_revalidated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dash")).unwrap();
    std::fs::write(dir.path().join("dash/web-app.json"), SEED_DASHBOARD).unwrap();
    let s = Server::start(Some("dashboards: [ \"dash/*.json\" ]\n"), &dir.path().join("data"));
    let c = client();
    // Dashboards named in the config are listed and served.
    let listed = s.get_json("/api/v1/dashboards");
    assert_eq!(listed["data"][1]["id"], "web-app", "{listed}");
    assert_eq!(listed["data"][1]["source"], "file");
    let one = s.get_json("/api/v1/dashboards/web-app");
    assert_eq!(one["data"]["panels"].as_array().unwrap().len(), 4);
    // A broken one is a config error naming the file.
    std::fs::write(dir.path().join("dash/broken.json"), "{ nope").unwrap();
    let cfg = dir.path().join("check.yml");
    std::fs::write(&cfg, "dashboards: [ \"dash/*.json\" ]\n").unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(
        err.contains("check.yml:1") && err.contains("broken.json") && err.contains("not JSON"),
        "{err}"
    );
    for page in [
        "/",
        "/explore",
        "/alerts",
        "/health",
        "/targets",
        "/dashboards",
        "/dashboards/overview",
        "/status",
    ] {
        let r = c.get(s.url(page)).send().unwrap();
        assert_eq!(r.status(), 200, "{page}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    let r = c
        .get(s.url("/ui/app.js"))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let again = c
        .get(s.url("/ui/app.js"))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(c.get(s.url("/ui/nope.js")).send().unwrap().status(), 404);
    // The whole first load of the overview: shell plus every asset.
    let total: usize = walk_assets(&s);
    assert!(total < 500 * 1024, "first load transfers {total} bytes");
    // The dashboards API refuses what is not a dashboard, with a reason.
    let bad = c.post(s.url("/api/v1/dashboards")).body("[1,2]").send().unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("must be a JSON object"));
    let missing = c.get(s.url("/api/v1/dashboards/nope")).send().unwrap();
    assert_eq!(missing.status(), 404);
}

/// Bytes of the shell and every script and stylesheet it pulls in, gzip
/// where offered (what a browser's first load transfers).
fn walk_assets(s: &Server) -> usize {
    let c = reqwest::blocking::Client::builder().gzip(false).build().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec!["/".to_string()];
    let mut total = 0;
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let r = c.get(s.url(&path)).header("Accept-Encoding", "gzip").send().unwrap();
        let body = r.bytes().unwrap();
        total += body.len();
        let Ok(text) = reqwest::blocking::get(s.url(&path)).and_then(|r| r.text()) else {
            continue;
        };
        for part in text.split(['"', '\'']) {
            if part.starts_with("/ui/") && !seen.contains(part) {
                todo.push(part.to_string());
            }
        }
        // Relative module imports (`./x.js`, `../y.js`) of scripts.
        if let Some(base) = path.rsplit_once('/').map(|(b, _)| b.to_string()) {
            for part in text
                .split(['"', '\''])
                .filter(|p| p.ends_with(".js") && p.starts_with('.'))
            {
                let mut segs: Vec<&str> = base.split('/').collect();
                for seg in part.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            segs.pop();
                        }
                        s => segs.push(s),
                    }
                }
                todo.push(segs.join("/"));
            }
        }
    }
    total
}

/// With no data at all: empty states instead of errors, the dark theme by
/// its toggle, a phone-sized window without sideways scrolling, and the
/// navigation reachable with the keyboard alone.
#[test]
fn empty_dark_narrow_and_keyboard_only() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(Some(""), &dir.path().join("data"));
    browser.goto(&s.url("/"));
    browser.wait_ready();
    let empty = browser.eval(
        "return document.querySelectorAll('.aw-empty, .aw-card').length;",
        json!([]),
    );
    assert!(empty.as_u64().unwrap() > 0, "empty states say what to configure");
    let text = browser.eval("return document.body.innerText;", json!([]));
    assert!(text.as_str().unwrap().contains("No data"), "{text}");
    assert!(browser.console_problems().is_empty());

    browser.click_css("#aw-theme");
    let theme = browser.eval(
        "return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor];",
        json!([]),
    );
    assert_eq!(theme[0], "dark", "{theme}");
    shot(&browser, "overview-empty-dark");
    browser.goto(&s.url("/alerts"));
    browser.wait_ready();
    let kept = browser.eval("return document.documentElement.dataset.theme;", json!([]));
    assert_eq!(kept, "dark", "the choice is kept across pages");

    browser.resize(390, 844);
    for page in [
        "/",
        "/explore",
        "/alerts",
        "/health",
        "/targets",
        "/dashboards",
        "/status",
    ] {
        browser.goto(&s.url(page));
        browser.wait_ready();
        let overflow = browser.eval(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            json!([]),
        );
        assert!(
            overflow.as_i64().unwrap() <= 1,
            "{page}: scrolls sideways by {overflow} px on a phone"
        );
    }
    shot(&browser, "status-narrow-dark");
    browser.resize(1280, 900);

    // Tab from the top of the page reaches the Explore link; Enter follows it.
    browser.goto(&s.url("/"));
    browser.wait_ready();
    let mut reached = false;
    for _ in 0..15 {
        browser.keys("\u{E004}");
        let focused = browser.eval(
            "const a = document.activeElement; return a ? (a.getAttribute('href') || a.id || a.tagName) : null;",
            json!([]),
        );
        if focused == "/explore" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the Explore link is reachable with Tab");
    browser.keys("\u{E007}");
    browser.wait_for(
        "the Explore page",
        "return location.pathname === '/explore' && document.body.dataset.ready === '1';",
        Duration::from_secs(10),
    );
    let visible_focus = browser.eval(
        "const a = document.querySelector('a[href=\"/explore\"]'); a.focus(); const s = getComputedStyle(a); return s.outlineStyle !== 'none' || s.boxShadow !== 'none';",
        json!([]),
    );
    assert_eq!(visible_focus, true, "focus is visible");
    assert!(browser.console_problems().is_empty());
}
