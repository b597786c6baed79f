//! `pass.json` of a loyalty `storeCard` (spec §1.3, §1.4) and its `pass.strings` translations.
//!
//! Labels and change messages are localisation keys: Wallet replaces them with the text of the
//! device language from `<lang>.lproj/pass.strings`, so the pass itself is language-neutral.

use serde::Serialize;

use super::design::{BarcodeFormat, Design};

/// Wallet ignores the web service (no registration, no updates) below this length (spec §5.3).
const MIN_AUTH_TOKEN_LEN: usize = 16;

/// Everything about one card that its pass shows; plain data, so no database row is needed.
#[derive(Debug, Clone)]
pub struct PassInput {
    pub program_name: String,
    /// Shown on the lock screen; `None` uses the design's organisation name.
    pub organization: Option<String>,
    /// Never changes for the life of the card: Wallet replaces a pass with the same serial.
    pub serial: String,
    /// At least 16 characters; sent back by the device as `Authorization: ApplePass <token>`.
    pub auth_token: String,
    /// Payload of the scanned code.
    pub barcode: String,
    /// The card number as people read it ("1234 5678 9012"), under the code and on the back.
    pub display_number: String,
    pub balance: i64,
    pub member_first_name: Option<String>,
    /// The card's tier, named in the programme's language; `None` without tiers.
    pub tier: Option<String>,
    /// The next points to expire, in the holder's language ("120 points expire on 31 Mar 2027"), on
    /// the back; `None` when none do.
    pub expiry: Option<String>,
    pub referral_link: Option<String>,
    /// The last transactions, newest first, one line each (on the back of the pass).
    pub recent: Vec<String>,
    /// The usable vouchers in one line ("2 · next ends 31 May"), on the front; `None` without any.
    pub vouchers_summary: Option<String>,
    /// One line per usable voucher (value, code, end), on the back.
    pub vouchers: Vec<String>,
    /// The latest campaign message ("title\nbody", with the member's code), first on the back;
    /// a new one is shown on the lock screen when the pass updates.
    pub message: Option<String>,
    /// A closed card's pass stays in the wallet, marked void.
    pub voided: bool,
    /// Base URL of the PassKit web service: https for iPhones; http only for devices in developer mode.
    pub web_service_url: String,
    pub pass_type_id: String,
    pub team_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("the authentication token has {0} characters; Wallet needs at least {MIN_AUTH_TOKEN_LEN}")]
    ShortAuthToken(usize),
    #[error("the web service URL must be an http(s) URL: {0:?}")]
    WebServiceUrl(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("serializing pass.json: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pass {
    pub format_version: u8,
    pub pass_type_identifier: String,
    pub team_identifier: String,
    pub serial_number: String,
    pub authentication_token: String,
    #[serde(rename = "webServiceURL")]
    pub web_service_url: String,
    pub organization_name: String,
    pub description: String,
    pub logo_text: String,
    pub foreground_color: String,
    pub background_color: String,
    pub label_color: String,
    pub barcodes: Vec<Barcode>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub voided: bool,
    pub store_card: StoreCard,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Barcode {
    pub format: &'static str,
    pub message: String,
    pub message_encoding: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCard {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header_fields: Vec<Field>,
    pub primary_fields: Vec<Field>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secondary_fields: Vec<Field>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary_fields: Vec<Field>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub back_fields: Vec<Field>,
}

/// A field dictionary; `key` must be unique across the whole pass.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub key: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
    pub value: FieldValue,
    /// Must contain `%@`; without it the update is silent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_style: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_detector_types: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Number(i64),
    Text(String),
}

impl Field {
    fn text(key: &'static str, label: &'static str, value: String) -> Field {
        Field {
            key,
            label: Some(label),
            value: FieldValue::Text(value),
            change_message: None,
            number_style: None,
            data_detector_types: Vec::new(),
        }
    }
}

/// Localisation keys and their texts: (key, English, French).
const STRINGS: &[(&str, &str, &str)] = &[
    (POINTS_LABEL, "Points", "Points"),
    (POINTS_CHANGED, "You now have %@ points", "Vous avez maintenant %@ points"),
    (MEMBER_LABEL, "Member", "Membre"),
    (TIER_LABEL, "Tier", "Niveau"),
    (TIER_CHANGED, "You are now %@", "Vous êtes maintenant %@"),
    (NUMBER_LABEL, "Card number", "Numéro de carte"),
    (REFERRAL_LABEL, "Invite a friend", "Parrainez un ami"),
    (RECENT_LABEL, "Recent activity", "Activité récente"),
    (VOUCHERS_LABEL, "Vouchers", "Bons d'achat"),
    (VOUCHERS_CHANGED, "Vouchers: %@", "Bons d'achat : %@"),
    (VOUCHERS_LIST_LABEL, "Your vouchers", "Vos bons d'achat"),
    (EXPIRY_LABEL, "Points expiry", "Expiration des points"),
    (TERMS_LABEL, "Terms and conditions", "Conditions générales"),
    (CONTACT_LABEL, "Contact", "Contact"),
    (MESSAGE_LABEL, "News", "Actualités"),
    (MESSAGE_CHANGED, "%@", "%@"),
];
const MESSAGE_LABEL: &str = "encarte.message.label";
const MESSAGE_CHANGED: &str = "encarte.message.changed";
const POINTS_LABEL: &str = "encarte.points.label";
const POINTS_CHANGED: &str = "encarte.points.changed";
const MEMBER_LABEL: &str = "encarte.member.label";
const TIER_LABEL: &str = "encarte.tier.label";
const TIER_CHANGED: &str = "encarte.tier.changed";
const NUMBER_LABEL: &str = "encarte.number.label";
const REFERRAL_LABEL: &str = "encarte.referral.label";
const RECENT_LABEL: &str = "encarte.recent.label";
const VOUCHERS_LABEL: &str = "encarte.vouchers.label";
const VOUCHERS_CHANGED: &str = "encarte.vouchers.changed";
const VOUCHERS_LIST_LABEL: &str = "encarte.vouchers_list.label";
const EXPIRY_LABEL: &str = "encarte.expiry.label";
const TERMS_LABEL: &str = "encarte.terms.label";
const TERMS_TEXT: &str = "encarte.terms.text";
const CONTACT_LABEL: &str = "encarte.contact.label";

/// The typed pass for one card.
pub fn pass(input: &PassInput, design: &Design) -> Result<Pass, PassError> {
    for (what, value) in [
        ("the serial number", &input.serial),
        ("the pass type identifier", &input.pass_type_id),
        ("the team identifier", &input.team_id),
        ("the barcode", &input.barcode),
    ] {
        if value.trim().is_empty() {
            return Err(PassError::Empty(what));
        }
    }
    let token_len = input.auth_token.chars().count();
    if token_len < MIN_AUTH_TOKEN_LEN {
        return Err(PassError::ShortAuthToken(token_len));
    }
    // A trailing slash makes devices request `//v1/...`, which strict routers answer with 404.
    let web_service_url = input.web_service_url.trim_end_matches('/').to_owned();
    if !(web_service_url.starts_with("https://") || web_service_url.starts_with("http://")) {
        return Err(PassError::WebServiceUrl(input.web_service_url.clone()));
    }

    let balance = Field {
        key: "balance",
        label: Some(POINTS_LABEL),
        value: FieldValue::Number(input.balance),
        change_message: Some(POINTS_CHANGED),
        number_style: Some("PKNumberStyleDecimal"),
        data_detector_types: Vec::new(),
    };
    let mut secondary: Vec<Field> = input
        .member_first_name
        .iter()
        .filter(|name| !name.trim().is_empty())
        .map(|name| Field::text("member", MEMBER_LABEL, name.clone()))
        .collect();
    // A move to another tier is news: the lock screen says it.
    if let Some(tier) = input.tier.as_ref().filter(|t| !t.trim().is_empty()) {
        secondary.push(Field { change_message: Some(TIER_CHANGED), ..Field::text("tier", TIER_LABEL, tier.clone()) });
    }
    // A new or used voucher changes this line, so the holder is told (the list on the back is silent).
    let auxiliary = input
        .vouchers_summary
        .iter()
        .map(|summary| Field {
            change_message: Some(VOUCHERS_CHANGED),
            ..Field::text("vouchers", VOUCHERS_LABEL, summary.clone())
        })
        .collect();
    let mut back = Vec::new();
    if let Some(message) = input.message.as_ref().filter(|m| !m.trim().is_empty()) {
        back.push(Field {
            change_message: Some(MESSAGE_CHANGED),
            data_detector_types: vec!["PKDataDetectorTypeLink"],
            ..Field::text("message", MESSAGE_LABEL, message.clone())
        });
    }
    back.push(Field::text("number", NUMBER_LABEL, input.display_number.clone()));
    if let Some(expiry) = input.expiry.as_ref().filter(|e| !e.is_empty()) {
        back.push(Field::text("expiry", EXPIRY_LABEL, expiry.clone()));
    }
    if let Some(link) = input.referral_link.as_ref().filter(|l| !l.is_empty()) {
        back.push(Field {
            data_detector_types: vec!["PKDataDetectorTypeLink"],
            ..Field::text("referral", REFERRAL_LABEL, link.clone())
        });
    }
    if !input.vouchers.is_empty() {
        back.push(Field::text("vouchers_list", VOUCHERS_LIST_LABEL, input.vouchers.join("\n")));
    }
    if !input.recent.is_empty() {
        back.push(Field::text("recent", RECENT_LABEL, input.recent.join("\n")));
    }
    if design.terms.is_some() {
        back.push(Field::text("terms", TERMS_LABEL, TERMS_TEXT.to_owned()));
    }
    if let Some(contact) = &design.contact {
        back.push(Field {
            data_detector_types: vec![
                "PKDataDetectorTypePhoneNumber",
                "PKDataDetectorTypeLink",
                "PKDataDetectorTypeAddress",
            ],
            ..Field::text("contact", CONTACT_LABEL, contact.clone())
        });
    }

    let alt_text = (!input.display_number.is_empty()).then(|| input.display_number.clone());
    Ok(Pass {
        format_version: 1,
        pass_type_identifier: input.pass_type_id.clone(),
        team_identifier: input.team_id.clone(),
        serial_number: input.serial.clone(),
        authentication_token: input.auth_token.clone(),
        web_service_url,
        organization_name: input
            .organization
            .clone()
            .unwrap_or_else(|| design.organization_for(&input.program_name).to_owned()),
        description: format!("{} loyalty card", input.program_name),
        logo_text: design.logo_text.clone().unwrap_or_else(|| input.program_name.clone()),
        foreground_color: design.foreground_color.to_string(),
        background_color: design.background_color.to_string(),
        label_color: design.label_color.to_string(),
        barcodes: vec![Barcode {
            format: barcode_format(design.barcode_format),
            message: input.barcode.clone(),
            message_encoding: "iso-8859-1",
            alt_text,
        }],
        voided: input.voided,
        store_card: StoreCard {
            primary_fields: vec![balance],
            secondary_fields: secondary,
            auxiliary_fields: auxiliary,
            back_fields: back,
            ..StoreCard::default()
        },
    })
}

/// The exact `pass.json` bytes that go into the bundle.
pub fn pass_json(input: &PassInput, design: &Design) -> Result<Vec<u8>, PassError> {
    Ok(serde_json::to_vec(&pass(input, design)?)?)
}

/// `en.lproj/pass.strings` and `fr.lproj/pass.strings`: (path in the bundle, bytes).
///
/// Encoded UTF-16LE with a byte-order mark: the encoding every Wallet version reads (spec §1.1,
/// one library's users needed it where UTF-8 failed).
pub fn pass_strings(design: &Design) -> Vec<(String, Vec<u8>)> {
    let terms = design.terms.as_ref();
    [("en", terms.map(|t| t.en.as_str())), ("fr", terms.map(|t| t.fr.as_str()))]
        .into_iter()
        .map(|(lang, terms)| {
            let mut text = String::new();
            for (key, en, fr) in STRINGS {
                push_entry(&mut text, key, if lang == "en" { en } else { fr });
            }
            if let Some(terms) = terms {
                push_entry(&mut text, TERMS_TEXT, terms);
            }
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            (format!("{lang}.lproj/pass.strings"), bytes)
        })
        .collect()
}

fn push_entry(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("\"{}\" = \"{}\";\n", escape(key), escape(value)));
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn barcode_format(format: BarcodeFormat) -> &'static str {
    match format {
        BarcodeFormat::Qr => "PKBarcodeFormatQR",
        BarcodeFormat::Pdf417 => "PKBarcodeFormatPDF417",
        BarcodeFormat::Aztec => "PKBarcodeFormatAztec",
        BarcodeFormat::Code128 => "PKBarcodeFormatCode128",
    }
}
