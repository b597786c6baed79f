//! Templates of the customer pages and e-mails, in English and French.
//!
//! minijinja, read from `{templates_dir}` at start-up (not compiled in): a merchant restyles the
//! pages and rewrites the e-mails by editing files, like the pass designs beside them, without a
//! Rust toolchain. Every template is parsed at start-up (a broken one stops it) and rendered in a
//! test with sample data, which is what askama's compile-time check would have given us.
//!
//! Text lives in `i18n/{lang}.json` catalogs, used as `{{ t("key", name=...) }}`: a missing key
//! is an error, not an empty string, and a test keeps the catalogs' keys identical.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use serde::Serialize;

/// The languages of the pages and e-mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// From a stored locale such as `fr-FR`; None for a language we don't have.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The best of ours for an `Accept-Language` header (RFC 9110 §12.5.4: highest q first,
    /// order breaking ties), or `fallback`.
    pub fn negotiate(header: Option<&str>, fallback: Lang) -> Lang {
        let Some(header) = header else { return fallback };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_tag(tag)
                && q > 0.0
                && best.is_none_or(|(b, _)| q > b)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(fallback, |(_, lang)| lang)
    }
}

/// The parsed templates and catalogs. Cheap to share: behind an `Arc` everywhere.
pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<BTreeMap<Lang, BTreeMap<String, String>>>,
}

/// The folders of `templates_dir` whose `.html` and `.txt` files are templates.
const FOLDERS: [&str; 2] = ["pages", "email"];

impl Templates {
    /// Reads every template and catalog under `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Templates> {
        let mut catalogs = BTreeMap::new();
        for lang in Lang::ALL {
            let path = dir.join("i18n").join(format!("{}.json", lang.code()));
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let catalog: BTreeMap<String, String> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON object of strings", path.display()))?;
            catalogs.insert(lang, catalog);
        }
        let mut sources = Vec::new();
        for folder in FOLDERS {
            collect(&dir.join(folder), folder, &mut sources)?;
        }
        Templates::from_sources(catalogs, sources)
    }

    pub fn from_sources(
        catalogs: BTreeMap<Lang, BTreeMap<String, String>>,
        sources: Vec<(String, String)>,
    ) -> anyhow::Result<Templates> {
        let catalogs = Arc::new(catalogs);
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Autoescape HTML by the template's name; text e-mails are plain.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        env.add_filter("url", url_filter);
        let for_t = catalogs.clone();
        env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| translate(&for_t, state, key, kwargs));
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source).with_context(|| format!("template {name}"))?;
        }
        Ok(Templates { env, catalogs })
    }

    /// Renders `name` in `lang`; the context gets `lang` added.
    pub fn render(&self, name: &str, lang: Lang, context: impl Serialize) -> anyhow::Result<String> {
        let template = self.env.get_template(name).with_context(|| format!("no template {name}"))?;
        let ctx = minijinja::context! { lang => lang.code(), ..Value::from(minijinja::value::Serde(&context)) };
        template.render(ctx).map_err(|e| anyhow::anyhow!("rendering {name}: {e:#}"))
    }

    /// One catalog entry, with `{name}` placeholders filled.
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> anyhow::Result<String> {
        let raw =
            self.catalogs.get(&lang).and_then(|c| c.get(key)).with_context(|| format!("no text {key} in {lang:?}"))?;
        let mut out = raw.clone();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        Ok(out)
    }

    /// Names of all templates, for the test that renders each.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.env.templates().map(|(name, _)| name.to_owned()).collect();
        names.sort();
        names
    }

    pub fn catalog(&self, lang: Lang) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.catalogs.get(&lang).unwrap_or(&EMPTY)
    }
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        let name = format!("{prefix}/{file}");
        if path.is_dir() {
            collect(&path, &name, out)?;
        } else if file.ends_with(".html") || file.ends_with(".txt") {
            let source = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            out.push((name, source));
        }
    }
    Ok(())
}

/// `{{ link|url }}` in HTML: escaped like any text but for `/`, which minijinja writes as
/// `&#x2f;`: valid HTML, yet spam filters take links spelled with entities for obfuscation.
fn url_filter(value: &str) -> Value {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

fn translate(
    catalogs: &BTreeMap<Lang, BTreeMap<String, String>>,
    state: &State,
    key: &str,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let lang = state.lookup("lang").and_then(|v| v.as_str().and_then(Lang::from_tag)).unwrap_or(Lang::En);
    let raw = catalogs.get(&lang).and_then(|c| c.get(key)).ok_or_else(|| {
        Error::new(ErrorKind::UndefinedError, format!("no text {key:?} in the {} catalog", lang.code()))
    })?;
    let mut out = raw.clone();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    // A plain string: in an HTML template it is escaped with its arguments (a customer's name),
    // so catalogs hold no markup.
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_filter_keeps_slashes_and_escapes_the_rest() {
        let templates = Templates::from_sources(
            BTreeMap::new(),
            vec![("a.html".into(), r#"<a href="{{ u|url }}">{{ u }}</a>"#.into())],
        )
        .unwrap();
        let out =
            templates.render("a.html", Lang::En, minijinja::context! { u => "https://x.test/a?b=1&c=\"<" }).unwrap();
        assert_eq!(
            out,
            r#"<a href="https://x.test/a?b=1&amp;c=&quot;&lt;">https:&#x2f;&#x2f;x.test&#x2f;a?b=1&amp;c=&quot;&lt;</a>"#
        );
    }

    #[test]
    fn catalogs_have_the_same_keys() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates = Templates::load(&dir).expect("templates load");
        let keys = |lang| templates.catalog(lang).keys().cloned().collect::<Vec<_>>();
        let (en, fr) = (keys(Lang::En), keys(Lang::Fr));
        let only_en: Vec<_> = en.iter().filter(|k| !fr.contains(k)).collect();
        let only_fr: Vec<_> = fr.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty() && only_fr.is_empty(), "only in en: {only_en:?}; only in fr: {only_fr:?}");
        assert!(templates.catalog(Lang::Fr).values().all(|v| !v.trim().is_empty()), "an empty French text");
    }

    #[test]
    fn negotiates_by_quality_then_order() {
        assert_eq!(Lang::negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8"), Lang::En), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de-DE,en;q=0.5,fr;q=0.7"), Lang::En), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de-DE"), Lang::Fr), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en-GB, fr"), Lang::Fr), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr;q=0"), Lang::En), Lang::En);
        assert_eq!(Lang::negotiate(None, Lang::Fr), Lang::Fr);
    }
}
