//! Wallet passes. Apple: a signing identity and a design, loaded once at start-up, turn a card
//! into a signed `.pkpass`.

pub mod apple;
pub mod google;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use apple::apns::Apns;
use apple::{Design, SigningIdentity};

pub const DEV_PASS_TYPE_ID: &str = "pass.dev.encarte.loyalty";
pub const DEV_TEAM_ID: &str = "DEVTEAM001";

/// What every pass of this node is made with.
pub struct AppleWallet {
    pub identity: SigningIdentity,
    /// Every design of `{templates_dir}/passes/` (and the built-in default), by folder name.
    pub designs: BTreeMap<String, Design>,
    /// The design of programs that did not choose one (`pass_design`).
    pub default_design: String,
    /// `{public_url}/wallet/apple`: where iPhones ask for updates.
    pub web_service_url: String,
    /// True when signed by the generated development chain: valid for openssl, refused by iPhones.
    pub development: bool,
    /// Pushes pass updates, with the signing certificate as client identity.
    pub apns: Apns,
}

impl AppleWallet {
    /// Loads the configured certificate (PEM files or a `.p12`), or generates/reuses the
    /// development chain; refuses a configured identifier that disagrees with the certificate.
    pub fn load(config: &Config) -> anyhow::Result<AppleWallet> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        let wwdr = || -> anyhow::Result<Vec<u8>> {
            let path = config
                .apple_wwdr
                .as_deref()
                .context("apple_wwdr (the WWDR G4 certificate) must be set with a real certificate")?;
            read(path)
        };
        let (identity, development) = match (&config.apple_p12, &config.apple_cert, &config.apple_key) {
            (Some(p12), _, _) => {
                let password = config.apple_p12_password.as_deref().unwrap_or_default();
                (SigningIdentity::from_p12(&read(p12)?, password, &wwdr()?)?, false)
            }
            (None, Some(cert), Some(key)) => (SigningIdentity::from_pem(&read(cert)?, &read(key)?, &wwdr()?)?, false),
            (None, Some(_), None) | (None, None, Some(_)) => anyhow::bail!("apple_cert and apple_key go together"),
            (None, None, None) => {
                let dir = config.data_dir.join("certs").join("dev");
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let pass_type_id = config.apple_pass_type_id.as_deref().unwrap_or(DEV_PASS_TYPE_ID);
                let team_id = config.apple_team_id.as_deref().unwrap_or(DEV_TEAM_ID);
                let identity = apple::generate_dev_chain(&dir, pass_type_id, team_id)?;
                tracing::warn!(
                    certs = %dir.display(),
                    "no Apple certificate configured: passes are signed with a development chain; they verify \
                     with openssl against root.pem but an iPhone will not install them (see certs.example/README.md)"
                );
                (identity, true)
            }
        };
        identity.check(config.apple_pass_type_id.as_deref(), config.apple_team_id.as_deref())?;
        let days_left = identity.seconds_left() / 86_400;
        if !development && days_left < 30 {
            tracing::warn!(
                days_left,
                "the Apple Pass Type ID certificate expires soon: renew it (certs.example/README.md)"
            );
        }
        let designs = load_designs(&config.templates_dir.join("passes"))?;
        if !designs.contains_key(&config.pass_design) {
            let names: Vec<&str> = designs.keys().map(String::as_str).collect();
            anyhow::bail!("pass_design {:?} is not among the designs found: {}", config.pass_design, names.join(", "));
        }
        let web_service_url = format!("{}/wallet/apple", config.public_url());
        if !web_service_url.starts_with("https://") {
            tracing::warn!(
                web_service_url,
                "ENCARTE_PUBLIC_URL is not https: iPhones only talk to an https web service"
            );
        }
        let extra_root = config.apns_ca.as_deref().map(read).transpose()?;
        let timeout = std::time::Duration::from_secs(config.apns_timeout_seconds);
        let apns = Apns::new(&identity, &config.apns_base_url, extra_root.as_deref(), timeout)
            .context("cannot set up the APNs client")?;
        let default_design = config.pass_design.clone();
        Ok(AppleWallet { identity, designs, default_design, web_service_url, development, apns })
    }
}

impl AppleWallet {
    /// The design of a program: the one it chose when it still exists, else the default.
    pub fn design(&self, chosen: Option<&str>) -> &Design {
        chosen.and_then(|name| self.designs.get(name)).unwrap_or_else(|| &self.designs[&self.default_design])
    }
}

/// Every folder of `dir` holding a `design.json`, plus the built-in default unless a `default`
/// folder overrides it. A design that does not load stops start-up: better than passes without
/// an icon on customers' phones.
fn load_designs(dir: &Path) -> anyhow::Result<BTreeMap<String, Design>> {
    let mut designs = BTreeMap::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.join("design.json").is_file() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let design =
                    Design::load(&path).with_context(|| format!("cannot load the pass design {}", path.display()))?;
                designs.insert(name, design);
            }
        }
    }
    if !designs.contains_key("default") {
        designs.insert("default".to_owned(), Design::embedded_default()?);
    }
    Ok(designs)
}
