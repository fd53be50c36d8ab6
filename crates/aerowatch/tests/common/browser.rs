//! Headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `.ci/run`) driven over the W3C WebDriver protocol with a few blocking
//! HTTP calls: enough to load pages, click, type, run a script, read the
//! console and take screenshots.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const W3C_ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Clone)]
pub struct Element(String);

impl Element {
    /// The element as a script argument for [`Browser::eval`].
    pub fn as_arg(&self) -> Value {
        json!({ W3C_ELEMENT: self.0 })
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (skip) when they
    /// are not installed outside CI.
    pub fn start() -> Option<Browser> {
        let (driver_bin, chromium) = (Path::new("/usr/bin/chromedriver"), Path::new("/usr/bin/chromium"));
        if !driver_bin.exists() || !chromium.exists() {
            assert!(
                std::env::var_os("AEROWATCH_CI").is_none(),
                "chromium and chromium-driver missing under CI"
            );
            eprintln!("skipping: apt-get install chromium chromium-driver");
            return None;
        }
        let port = super::free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        // The flags that keep Chromium off the (closed) network and quiet.
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": chromium, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" }
            }}
        });
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("new WebDriver session");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Some(Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|(err, msg)| panic!("WebDriver {path}: {err}: {msg}"))
    }

    /// A WebDriver command; `Err((error code, message))` when it failed.
    fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, (String, String)> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        match r["value"].get("error") {
            Some(err) => Err((
                err.as_str().unwrap_or("").to_string(),
                r["value"]["message"].as_str().unwrap_or("").to_string(),
            )),
            None => Ok(r["value"].clone()),
        }
    }

    /// Finds `css` and runs `act` on it; when the page re-rendered the
    /// element in between (a stale reference), finds it again, a few times.
    fn with_fresh(&self, css: &str, act: impl Fn(&Element) -> Result<Value, (String, String)>) -> Value {
        for _ in 0..5 {
            let e = self.find(css);
            match act(&e) {
                Ok(v) => return v,
                Err((err, _)) if err == "stale element reference" => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err((err, msg)) => panic!("WebDriver on {css:?}: {err}: {msg}"),
            }
        }
        panic!("{css:?} kept going stale");
    }

    /// Clicks the element matching `css`.
    pub fn click_css(&self, css: &str) {
        self.with_fresh(css, |e| {
            self.try_call(
                reqwest::Method::POST,
                &format!("/element/{}/click", e.0),
                Some(json!({})),
            )
        });
    }

    /// Runs `script` with the element matching `css` as `arguments[0]`.
    pub fn eval_on(&self, css: &str, script: &str) -> Value {
        self.with_fresh(css, |e| {
            self.try_call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": [e.as_arg()] })),
            )
        })
    }

    /// Pointer actions relative to the element matching `css`: each
    /// `(dx, press)` moves to `dx` pixels right of its centre, then presses
    /// (`Some(true)`), releases (`Some(false)`) or does neither.
    pub fn pointer_css(&self, css: &str, steps: &[(i64, Option<bool>)]) {
        self.with_fresh(css, |e| {
            let mut actions = Vec::new();
            for (dx, press) in steps {
                actions.push(json!({ "type": "pointerMove", "origin": e.as_arg(), "x": dx, "y": 0, "duration": 50 }));
                match press {
                    Some(true) => actions.push(json!({ "type": "pointerDown", "button": 0 })),
                    Some(false) => actions.push(json!({ "type": "pointerUp", "button": 0 })),
                    None => {}
                }
            }
            self.try_call(
                reqwest::Method::POST,
                "/actions",
                Some(json!({ "actions": [{
                    "type": "pointer",
                    "id": "mouse",
                    "parameters": { "pointerType": "mouse" },
                    "actions": actions
                }]})),
            )
        });
    }

    /// Loads `url` (waits for the load event).
    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` available) and returns its value.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_for(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.eval(script, json!([]));
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the app to mark the page rendered (`body[data-ready="1"]`).
    pub fn wait_ready(&self) {
        self.wait_for(
            "the page to render",
            "return document.body && document.body.dataset.ready === '1';",
            Duration::from_secs(15),
        );
    }

    /// The first element matching a CSS selector, waiting up to 10 s.
    pub fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let r: Value = self
                .http
                .post(&url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .and_then(|r| r.json())
                .expect("find element");
            if let Some(id) = r["value"][W3C_ELEMENT].as_str() {
                return Element(id.to_string());
            }
            assert!(Instant::now() < deadline, "no element matches {css:?}: {r}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        );
    }

    /// Resizes the browser window.
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Presses keys (WebDriver key codes such as `\u{E004}` for Tab) on
    /// whatever has the focus.
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({ "type": "keyDown", "value": c.to_string() }),
                    json!({ "type": "keyUp", "value": c.to_string() }),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        );
    }

    /// Types into an element.
    pub fn type_text(&self, e: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Browser console entries since the last call: `(level, message)`.
    pub fn console(&self) -> Vec<(String, String)> {
        let url = format!("{}/session/{}/se/log", self.base, self.session);
        let r: Value = self
            .http
            .post(&url)
            .json(&json!({ "type": "browser" }))
            .send()
            .and_then(|r| r.json())
            .expect("browser log");
        r["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or("").to_string(),
                            e["message"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Console errors and warnings since the last call.
    pub fn console_problems(&self) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
            .map(|(level, msg)| format!("{level}: {msg}"))
            .collect()
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or(""))
            .expect("base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the browser tests keep their screenshots: `target/ui-screenshots/`.
pub fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots")
}
