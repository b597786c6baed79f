//! Where mail goes: an SMTP server, `.eml` files (the default, so that a first run needs no mail
//! server), or memory (tests).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::stub::AsyncStubTransport;
use lettre::{Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// Below the default job lease (60 s): a hung server fails the attempt before another worker
/// may take the job over and send it a second time.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files { transport: AsyncFileTransport<Tokio1Executor>, dir: PathBuf },
    Memory(AsyncStubTransport),
}

impl std::fmt::Debug for Mailer {
    // Not derived: the SMTP transport holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.transport {
            Transport::Smtp(_) => "Mailer(smtp)",
            Transport::Files { .. } => "Mailer(files)",
            Transport::Memory(_) => "Mailer(memory)",
        })
    }
}

impl Mailer {
    /// SMTP when `smtp_url` is set, else files under `{data_dir}/mail/` (created here).
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        let from: Mailbox = config.mail_from.parse().context("mail_from is not a mailbox")?;
        let transport = match config.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => Transport::Smtp(smtp(url, config.smtp_ca.as_deref())?),
            None => {
                let dir = config.data_dir.join("mail");
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                Transport::Files { transport: AsyncFileTransport::new(&dir), dir }
            }
        };
        Ok(Mailer { transport, from })
    }

    /// Keeps what it sends, for [`sent`](Self::sent).
    pub fn memory() -> Mailer {
        let from = Config::default().mail_from.parse().unwrap_or_else(|_| {
            Mailbox::new(None, Address::new("no-reply", "encarte.invalid").expect("a valid literal address"))
        });
        Mailer { transport: Transport::Memory(AsyncStubTransport::new_ok()), from }
    }

    /// The configured sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Where the file transport writes, if this is one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Files { dir, .. } => Some(dir),
            _ => None,
        }
    }

    pub async fn send(&self, message: Message) -> anyhow::Result<()> {
        match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(drop).context("SMTP"),
            Transport::Files { transport, dir } => {
                transport.send(message).await.map(drop).with_context(|| format!("writing into {}", dir.display()))
            }
            Transport::Memory(t) => t.send(message).await.map(drop).context("memory transport"),
        }
    }

    /// What the memory transport was given (envelope and raw message); empty for the others.
    pub async fn sent(&self) -> Vec<(Envelope, String)> {
        match &self.transport {
            Transport::Memory(t) => t.messages().await,
            _ => Vec::new(),
        }
    }
}

/// lettre reads host, port, credentials and TLS mode from the URL; an extra CA means building
/// the same TLS mode again with that root added.
fn smtp(url: &str, ca: Option<&std::path::Path>) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    // lettre's errors name the part that is wrong, never the URL (which may hold a password).
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).context("smtp_url")?;
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read smtp_ca {}", ca.display()))?;
        let cert = Certificate::from_pem(&pem)
            .with_context(|| format!("smtp_ca {} is not a PEM certificate", ca.display()))?;
        let host = host_of(url).context("smtp_url has no host")?;
        let params = TlsParameters::builder(host).add_root_certificate(cert).build().context("smtp TLS set-up")?;
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let tls = if url.starts_with("smtps://") {
            Some(Tls::Wrapper(params))
        } else if query.split('&').any(|p| p == "tls=required") {
            Some(Tls::Required(params))
        } else if query.split('&').any(|p| p == "tls=opportunistic") {
            Some(Tls::Opportunistic(params))
        } else {
            None
        };
        if let Some(tls) = tls {
            builder = builder.tls(tls);
        }
    }
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// The host of `scheme://[user[:pass]@]host[:port][/...][?...]` (no IPv6 literal: a certificate
/// names a host).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_host_of_an_smtp_url() {
        assert_eq!(
            host_of("smtp://user:p%40ss@mail.example.com:587?tls=required").as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(host_of("smtps://localhost").as_deref(), Some("localhost"));
        assert_eq!(host_of("smtp://127.0.0.1:2525/hello.example").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("smtp://"), None);
    }
}
