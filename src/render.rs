//! Templates of the customer pages and e-mails, in English and French.
//!
//! minijinja, read from `{templates_dir}` at start-up (not compiled in): a merchant restyles the
//! pages and rewrites the e-mails by editing files, like the pass designs beside them, without a
//! Rust toolchain. Every template is parsed at start-up (a broken one stops it) and rendered in a
//! test with sample data, which is what askama's compile-time check would have given us.
//!
//! Text lives in `i18n/{lang}.json` catalogs, used as `{{ t("key", name=...) }}`: a missing key
//! is an error, not an empty string, and a test keeps the catalogs' keys identical. A text that
//! counts something is an object `{"one": "...", "other": "..."}`, chosen by the `count`
//! argument with the language's rule (English: 1 is "one"; French: 0 and 1 are).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use serde::Serialize;

/// The languages of the pages and e-mails: the customer's locale.
pub use crate::domain::text::Locale as Lang;

/// The parsed templates and catalogs. Cheap to share: behind an `Arc` everywhere.
pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<Catalogs>,
}

pub type Catalogs = BTreeMap<Lang, BTreeMap<String, Text>>;

/// One catalog entry: a plain text, or the forms of a text that counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Plural(Plural),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plural {
    pub one: String,
    pub other: String,
}

impl Text {
    /// The form for `count` in `lang`: a plural without a count is an error, as a missing
    /// argument is.
    fn form(&self, lang: Lang, key: &str, count: Option<i64>) -> Result<&str, String> {
        match (self, count) {
            (Text::Plain(text), _) => Ok(text),
            (Text::Plural(p), Some(n)) => Ok(if is_one(lang, n) { &p.one } else { &p.other }),
            (Text::Plural(_), None) => Err(format!("text {key:?} counts something: it needs a count argument")),
        }
    }

    #[cfg(test)]
    fn forms(&self) -> Vec<&str> {
        match self {
            Text::Plain(text) => vec![text],
            Text::Plural(p) => vec![&p.one, &p.other],
        }
    }
}

/// CLDR's cardinal rule of each language, for whole numbers: English says "1 point", "0 points";
/// French "0 point", "1 point", "2 points".
fn is_one(lang: Lang, n: i64) -> bool {
    match lang {
        Lang::En => n.unsigned_abs() == 1,
        Lang::Fr => n.unsigned_abs() <= 1,
    }
}

/// The folders of `templates_dir` whose `.html` and `.txt` files are templates.
const FOLDERS: [&str; 2] = ["pages", "email"];

/// The templates, catalogs and page assets this build ships, compiled into the binary: it runs
/// from any directory, and `templates_dir` only needs the files a merchant changed.
#[derive(rust_embed::Embed)]
#[folder = "templates/"]
#[include = "pages/*"]
#[include = "pages/**/*"]
#[include = "email/*"]
#[include = "i18n/*"]
pub struct Shipped;

/// A shipped file, or the merchant's copy of it from `dir` when there is one.
pub fn file(dir: &Path, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Shipped::get(name).map(|f| f.data.into_owned())),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Names of the files under `folder/`: the shipped ones and the merchant's own additions.
pub fn names(dir: &Path, folder: &str) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let prefix = format!("{folder}/");
    let mut names: std::collections::BTreeSet<String> =
        Shipped::iter().filter(|n| n.starts_with(&prefix)).map(std::borrow::Cow::into_owned).collect();
    collect(&dir.join(folder), folder, &mut names)?;
    Ok(names)
}

impl Templates {
    /// The shipped templates and catalogs, each overridden by its copy under `dir` when present
    /// (a catalog key by key: a merchant may change one sentence).
    pub fn load(dir: &Path) -> anyhow::Result<Templates> {
        let mut catalogs = BTreeMap::new();
        for lang in Lang::ALL {
            let name = format!("i18n/{}.json", lang.as_str());
            let mut catalog: BTreeMap<String, Text> = BTreeMap::new();
            let shipped = Shipped::get(&name).map(|f| f.data.into_owned());
            let local = std::fs::read(dir.join(&name)).ok();
            for bytes in [shipped, local].into_iter().flatten() {
                let layer: BTreeMap<String, Text> = serde_json::from_slice(&bytes).with_context(|| {
                    format!("{name} is not a JSON object of texts (strings, or {{\"one\", \"other\"}} plurals)")
                })?;
                catalog.extend(layer);
            }
            catalogs.insert(lang, catalog);
        }
        let mut sources = Vec::new();
        for folder in FOLDERS {
            for name in names(dir, folder)? {
                if !(name.ends_with(".html") || name.ends_with(".txt")) {
                    continue;
                }
                let bytes = file(dir, &name)?.with_context(|| format!("template {name} vanished"))?;
                let source = String::from_utf8(bytes).with_context(|| format!("template {name} is not UTF-8"))?;
                sources.push((name, source));
            }
        }
        Templates::from_sources(catalogs, sources)
    }

    pub fn from_sources(catalogs: Catalogs, sources: Vec<(String, String)>) -> anyhow::Result<Templates> {
        let catalogs = Arc::new(catalogs);
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Block tags leave no blank lines behind: smaller pages, readable source.
        env.set_syntax(minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?);
        // Autoescape HTML by the template's name; text e-mails are plain.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        env.add_filter("url", url_filter);
        let for_t = catalogs.clone();
        env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| translate(&for_t, state, key, kwargs));
        // `{{ cents|money(currency) }}`: amounts in the page's language.
        env.add_filter("money", |state: &State, cents: i64, currency: &str| {
            crate::domain::money::display(cents, currency, state_lang(state))
        });
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source).with_context(|| format!("template {name}"))?;
        }
        Ok(Templates { env, catalogs })
    }

    /// Renders `name` in `lang`; the context gets `lang` added.
    pub fn render(&self, name: &str, lang: Lang, context: impl Serialize) -> anyhow::Result<String> {
        let template = self.env.get_template(name).with_context(|| format!("no template {name}"))?;
        let ctx = minijinja::context! { lang => lang.as_str(), ..Value::from(minijinja::value::Serde(&context)) };
        template.render(ctx).map_err(|e| anyhow::anyhow!("rendering {name}: {e:#}"))
    }

    /// One catalog entry, with `{name}` placeholders filled (a plural's form chosen by `count`).
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> anyhow::Result<String> {
        let text =
            self.catalogs.get(&lang).and_then(|c| c.get(key)).with_context(|| format!("no text {key} in {lang:?}"))?;
        let count = match args.iter().find(|(name, _)| *name == "count") {
            Some((_, n)) => Some(n.parse::<i64>().with_context(|| format!("text {key:?}: count {n:?} is no number"))?),
            None => None,
        };
        let mut out = text.form(lang, key, count).map_err(anyhow::Error::msg)?.to_owned();
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

    pub fn catalog(&self, lang: Lang) -> &BTreeMap<String, Text> {
        static EMPTY: BTreeMap<String, Text> = BTreeMap::new();
        self.catalogs.get(&lang).unwrap_or(&EMPTY)
    }
}

fn collect(dir: &Path, prefix: &str, out: &mut std::collections::BTreeSet<String>) -> anyhow::Result<()> {
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
        } else if !file.starts_with('.') {
            out.insert(name);
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

/// The language of the template being rendered (`render` puts it in the context).
fn state_lang(state: &State) -> Lang {
    state.lookup("lang").and_then(|v| v.as_str().and_then(Lang::from_tag)).unwrap_or(Lang::En)
}

fn translate(catalogs: &Catalogs, state: &State, key: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let lang = state_lang(state);
    let text = catalogs.get(&lang).and_then(|c| c.get(key)).ok_or_else(|| {
        Error::new(ErrorKind::UndefinedError, format!("no text {key:?} in the {} catalog", lang.as_str()))
    })?;
    let count: Option<i64> = if kwargs.has("count") { Some(kwargs.get("count")?) } else { None };
    let mut out = text.form(lang, key, count).map_err(|e| Error::new(ErrorKind::UndefinedError, e))?.to_owned();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        if value.is_undefined() {
            return Err(Error::new(ErrorKind::UndefinedError, format!("text {key:?}: argument {name} is undefined")));
        }
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    // A plain string: in an HTML template it is escaped with its arguments (a customer's name),
    // so catalogs hold no markup.
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Templates {
        Templates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")).expect("the shipped templates load")
    }

    #[test]
    fn catalogs_have_the_same_keys_and_plurals() {
        let templates = shipped();
        let keys = |lang| templates.catalog(lang).keys().cloned().collect::<Vec<_>>();
        let (en, fr) = (keys(Lang::En), keys(Lang::Fr));
        let only_en: Vec<_> = en.iter().filter(|k| !fr.contains(k)).collect();
        let only_fr: Vec<_> = fr.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty() && only_fr.is_empty(), "only in en: {only_en:?}; only in fr: {only_fr:?}");
        let plural = |lang, key: &String| matches!(templates.catalog(lang).get(key), Some(Text::Plural(_)));
        let mismatched: Vec<_> = en.iter().filter(|k| plural(Lang::En, k) != plural(Lang::Fr, k)).collect();
        assert!(mismatched.is_empty(), "a plural in one language only: {mismatched:?}");
        let unnamed: Vec<_> = crate::domain::ledger::EntryKind::ALL
            .iter()
            .map(|k| crate::service::customer_pages::kind_key(k.as_str()))
            .filter(|key| !en.contains(key))
            .collect();
        assert!(unnamed.is_empty(), "ledger kinds the card page can't name: {unnamed:?}");
        for lang in Lang::ALL {
            let texts = templates.catalog(lang).values().flat_map(Text::forms).collect::<Vec<_>>();
            assert!(texts.iter().all(|v| !v.trim().is_empty()), "an empty {lang:?} text");
            assert!(texts.iter().all(|v| !v.contains("(s)")), "a {lang:?} text says (s): make it a plural");
        }
    }

    #[test]
    fn a_plural_takes_the_form_of_its_count_in_each_language() {
        let plural = |one: &str, other: &str| Text::Plural(Plural { one: one.into(), other: other.into() });
        let catalogs = BTreeMap::from([
            (Lang::En, BTreeMap::from([("n".to_owned(), plural("{count} point", "{count} points"))])),
            (Lang::Fr, BTreeMap::from([("n".to_owned(), plural("{count} point", "{count} points"))])),
        ]);
        let sources = vec![
            ("n.txt".to_owned(), "{{ t('n', count=n) }}".to_owned()),
            ("x.txt".to_owned(), "{{ t('n') }}".to_owned()),
        ];
        let templates = Templates::from_sources(catalogs, sources).unwrap();
        let render = |lang, n: i64| templates.render("n.txt", lang, serde_json::json!({"n": n})).unwrap();
        assert_eq!([0, 1, 2, -1].map(|n| render(Lang::En, n)), ["0 points", "1 point", "2 points", "-1 point"]);
        assert_eq!([0, 1, 2, 1000].map(|n| render(Lang::Fr, n)), ["0 point", "1 point", "2 points", "1000 points"]);
        assert!(templates.render("x.txt", Lang::En, serde_json::json!({})).is_err(), "a plural needs its count");
        assert_eq!(templates.text(Lang::Fr, "n", &[("count", "2")]).unwrap(), "2 points");
        assert!(templates.text(Lang::En, "n", &[]).is_err());
    }

    #[test]
    fn a_missing_text_is_an_error_not_a_blank() {
        let catalogs =
            BTreeMap::from([(Lang::En, BTreeMap::from([("hi".to_owned(), Text::Plain("Hi {name}".to_owned()))]))]);
        let sources = vec![
            ("ok.html".to_owned(), "{{ t('hi', name=who) }}".to_owned()),
            ("bad.html".to_owned(), "{{ t('nope') }}".to_owned()),
        ];
        let templates = Templates::from_sources(catalogs, sources).unwrap();
        let out = templates.render("ok.html", Lang::En, serde_json::json!({"who": "<b>Zoé</b>"})).unwrap();
        assert_eq!(out, "Hi &lt;b&gt;Zoé&lt;&#x2f;b&gt;");
        assert!(templates.render("bad.html", Lang::En, serde_json::json!({})).is_err());
        assert!(templates.render("ok.html", Lang::En, serde_json::json!({})).is_err(), "an undefined argument");
    }

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
}
