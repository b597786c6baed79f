//! Logs: tracing to stdout, as text or JSON. Every line of a request carries its request id
//! (the root span of `tracing-actix-web`).
//!
//! Text logs are one line per event whatever the values hold: a value from outside (a device's
//! report, a header, an error that quotes input) could otherwise write a newline and a line that
//! looks like ours. Every field is written through [`Escaped`]; JSON escapes by itself.

use std::fmt::{self, Write};
use std::io::IsTerminal;

use tracing::field::Field;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = if json {
        registry.with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(true)).try_init()
    } else {
        let fields = debug_fn(write_field).delimited(" ");
        // Colours for a person at a terminal only: in a file or a pipe they are noise (`ESC[2m`).
        let layer = tracing_subscriber::fmt::layer().fmt_fields(fields).with_ansi(std::io::stdout().is_terminal());
        registry.with(layer).try_init()
    };
}

/// `name=value`, or the bare message, with control characters escaped.
fn write_field(writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    if field.name() != "message" {
        write!(writer, "{}=", field.name())?;
    }
    write!(Escaped(writer), "{value:?}")
}

/// Writes through to `W`, with every control character (CR, LF, ESC...) as a visible escape.
pub struct Escaped<W>(pub W);

impl<W: Write> Write for Escaped<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_come_out_visible() {
        let mut out = String::new();
        write!(Escaped(&mut out), "a\nINFO forged\r\u{1b}[2m\tb é").unwrap();
        assert_eq!(out, "a\\nINFO forged\\r\\u{1b}[2m\\tb é");
    }
}
