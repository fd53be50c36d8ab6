//! Embedded files with what serving them needs: a content type, an ETag for
//! revalidation, and a gzip copy made once on first use.
use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// The paths the single-page app answers with `index.html`; the app's own
/// router picks the page.
pub const PAGE_ROUTES: &[&str] = &[
    "/",
    "/explore",
    "/alerts",
    "/health",
    "/targets",
    "/dashboards",
    "/dashboards/{id}",
    "/status",
];

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `assets/`, e.g. `pages/explore.js`.
    pub path: &'static str,
    /// Contents.
    pub body: &'static [u8],
    /// Gzip-compressed contents, when that is smaller.
    pub gzip: Option<Vec<u8>>,
    /// Strong validator: a hash of the contents, quoted.
    pub etag: String,
    /// MIME type from the extension.
    pub content_type: &'static str,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a: stable across builds and platforms, plenty for a cache validator.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok().filter(|z| z.len() < bytes.len())
}

fn table() -> &'static HashMap<&'static str, Asset> {
    static TABLE: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        embedded::ASSETS
            .iter()
            .map(|(path, body)| {
                let asset = Asset {
                    path,
                    body,
                    gzip: gzip(body),
                    etag: format!("\"{:016x}\"", fnv64(body)),
                    content_type: content_type(path),
                };
                (*path, asset)
            })
            .collect()
    })
}

/// The asset at `path` (relative to `assets/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    table().get(path)
}

/// The app's shell, served for every page route.
pub fn index_html() -> Option<&'static Asset> {
    asset("index.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_validators() {
        assert_eq!(content_type("pages/a.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_ne!(fnv64(b"a"), fnv64(b"b"));
        let text = "let x = 1;\n".repeat(100);
        let z = gzip(text.as_bytes()).expect("repetitive text compresses");
        assert!(z.len() < text.len());
        assert!(gzip(b"x").is_none(), "not kept when no smaller");
    }

    #[test]
    fn the_shell_and_its_scripts_are_embedded() {
        let index = index_html().expect("assets/index.html is embedded");
        let html = std::str::from_utf8(index.body).expect("utf-8");
        assert!(html.contains("/ui/app.js"), "the shell loads the app");
        assert!(asset("app.js").is_some());
        let total: usize = embedded::ASSETS.iter().map(|(_, b)| b.len()).sum();
        assert!(total < 500 * 1024, "the UI stays small: {total} bytes");
    }
}
