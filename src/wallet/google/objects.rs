//! The JSON Google stores: a `LoyaltyClass` per program and a `LoyaltyObject` per card
//! (spec §1.2, §1.3), and the PATCH bodies of a balance change. Pure functions: the REST client
//! sends what these build, and tests compare bodies byte for byte.

use serde_json::{Value, json};

/// Ids are `<issuer id>.<suffix>`, the suffix of letters, digits, '.', '_' and '-' only. Ours
/// come from opaque database ids: no personal data ends up in save links or Google's logs.
fn id(issuer_id: &str, prefix: &str, opaque: &str) -> String {
    let suffix: String = opaque
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    format!("{issuer_id}.{prefix}-{suffix}")
}

pub fn class_id(issuer_id: &str, program_id: &str) -> String {
    id(issuer_id, "program", program_id)
}

pub fn object_id(issuer_id: &str, card_serial: &str) -> String {
    id(issuer_id, "card", card_serial)
}

fn localized(en: &str) -> Value {
    json!({"defaultValue": {"language": "en", "value": en}})
}

/// What a program's class shows.
pub struct ClassInput<'a> {
    pub issuer_id: &'a str,
    pub program_id: &'a str,
    pub issuer_name: &'a str,
    pub program_name: &'a str,
    /// `#rrggbb`.
    pub background: String,
    /// Public https URL of a square logo (Google fetches it itself).
    pub logo_url: String,
    pub homepage_url: String,
    /// Where Google posts save / delete events; `None` when callbacks are not set up.
    pub callback_url: Option<String>,
}

pub fn loyalty_class(c: &ClassInput<'_>) -> Value {
    let mut class = json!({
        "id": class_id(c.issuer_id, c.program_id),
        "issuerName": c.issuer_name,
        "programName": c.program_name,
        // Every write must say UNDER_REVIEW: echoing back APPROVED is refused (spec §1.2).
        "reviewStatus": "UNDER_REVIEW",
        "hexBackgroundColor": c.background,
        "programLogo": {"sourceUri": {"uri": c.logo_url}, "contentDescription": localized(c.program_name)},
        "homepageUri": {"uri": c.homepage_url, "description": c.program_name},
        // A personal card: once saved, no one else may save it.
        "multipleDevicesAndHoldersAllowedStatus": "ONE_USER_ALL_DEVICES",
        "accountIdLabel": "Card",
        "accountNameLabel": "Member",
    });
    if let Some(url) = &c.callback_url {
        class["callbackOptions"] = json!({"url": url});
    }
    class
}

/// What one card's object shows.
pub struct ObjectInput<'a> {
    pub issuer_id: &'a str,
    pub program_id: &'a str,
    pub serial: &'a str,
    /// The card number, the member's account id at Google.
    pub number: &'a str,
    /// The same, grouped for reading: the text under the code.
    pub display_number: &'a str,
    pub member_name: &'a str,
    pub balance: i64,
    /// Payload of the scanned code, the same as on the Apple pass.
    pub barcode: &'a str,
    pub active: bool,
    /// (description, https URL): the card page, the referral link.
    pub links: Vec<(&'a str, String)>,
    /// Text modules: the usable vouchers, the next points to expire (each only when there is one).
    pub modules: Vec<TextModule>,
    /// The card's tier, as the object's secondary points (a loyalty object has no tier field of
    /// its own: `rewardsTier` is the class's); `None` without tiers.
    pub tier: Option<TierLine>,
}

/// "Niveau" / "Soie": the label (at most 9 characters shown) and the tier's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLine {
    pub label: String,
    pub name: String,
}

fn tier_points(t: &TierLine) -> Value {
    json!({"label": t.label, "balance": {"string": t.name}})
}

/// A text module of the object: a header line and a body of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextModule {
    /// `vouchers`, `expiry`: stable, so that Google replaces a module rather than adding one.
    pub id: &'static str,
    pub header: String,
    pub body: String,
}

/// `textModulesData` as the object and its patches carry it: the list is replaced whole, so a
/// module left out goes away (the vouchers once the last one is used).
fn text_modules(modules: &[TextModule]) -> Value {
    Value::Array(modules.iter().map(|m| json!({"id": m.id, "header": m.header, "body": m.body})).collect())
}

pub fn loyalty_object(o: &ObjectInput<'_>) -> Value {
    let uris: Vec<Value> = o
        .links
        .iter()
        .enumerate()
        .map(|(i, (description, uri))| json!({"uri": uri, "description": description, "id": format!("link{i}")}))
        .collect();
    let mut object = json!({
        "id": object_id(o.issuer_id, o.serial),
        "classId": class_id(o.issuer_id, o.program_id),
        "state": if o.active { "ACTIVE" } else { "INACTIVE" },
        "accountId": o.number,
        "accountName": o.member_name,
        "loyaltyPoints": points(o.balance),
        "barcode": {"type": "QR_CODE", "value": o.barcode, "alternateText": o.display_number},
    });
    if !uris.is_empty() {
        object["linksModuleData"] = json!({"uris": uris});
    }
    if !o.modules.is_empty() {
        object["textModulesData"] = text_modules(&o.modules);
    }
    if let Some(tier) = &o.tier {
        object["secondaryLoyaltyPoints"] = tier_points(tier);
    }
    object
}

fn points(balance: i64) -> Value {
    // Google's limit for `balance.int` (int32); larger balances go as a string.
    let int32_max = i64::from(i32::MAX);
    let balance = if (-int32_max..=int32_max).contains(&balance) {
        json!({"int": balance})
    } else {
        json!({"string": balance.to_string()})
    };
    json!({"label": "Points", "balance": balance})
}

/// The PATCH of a card whose balance, status or vouchers changed. `notify` asks Google to tell
/// the holder (it counts against the 3 notifying updates per pass per 24 h).
pub fn balance_patch(
    balance: i64,
    active: bool,
    modules: &[TextModule],
    tier: Option<&TierLine>,
    notify: bool,
) -> Value {
    let mut body = json!({
        "loyaltyPoints": points(balance),
        "state": if active { "ACTIVE" } else { "INACTIVE" },
        "textModulesData": text_modules(modules),
    });
    if let Some(tier) = tier {
        body["secondaryLoyaltyPoints"] = tier_points(tier);
    }
    if notify {
        body["notifyPreference"] = json!("NOTIFY_ON_UPDATE");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_input() -> ObjectInput<'static> {
        ObjectInput {
            issuer_id: "3388000000022123456",
            program_id: "0190f5b2-7c1a-7d3e-9a4b-123456789abc",
            serial: "0190f5b2-8888-7d3e-9a4b-123456789abc",
            number: "123456789012",
            display_number: "1234 5678 9012",
            member_name: "Zoé",
            balance: 120,
            barcode: "0123456789ABCDEFGHJKMNPQRS",
            active: true,
            links: vec![("My card", "https://shop.example/c/tok".into())],
            modules: Vec::new(),
            tier: None,
        }
    }

    #[test]
    fn ids_are_issuer_scoped_and_opaque() {
        assert_eq!(class_id("3388", "p/1 é"), "3388.program-p_1__");
        assert_eq!(object_id("3388", "0190f5b2-8888"), "3388.card-0190f5b2-8888");
    }

    #[test]
    fn the_object_carries_the_card() {
        let o = loyalty_object(&object_input());
        assert_eq!(o["id"], "3388000000022123456.card-0190f5b2-8888-7d3e-9a4b-123456789abc");
        assert_eq!(o["classId"], "3388000000022123456.program-0190f5b2-7c1a-7d3e-9a4b-123456789abc");
        assert_eq!(o["loyaltyPoints"], json!({"label": "Points", "balance": {"int": 120}}));
        assert_eq!(o["accountId"], "123456789012");
        assert_eq!(o["barcode"]["value"], "0123456789ABCDEFGHJKMNPQRS");
        assert_eq!(o["state"], "ACTIVE");
        assert_eq!(o["linksModuleData"]["uris"][0]["uri"], "https://shop.example/c/tok");
    }

    #[test]
    fn balance_patches_are_exact() {
        assert_eq!(
            balance_patch(42, true, &[], None, true),
            json!({"loyaltyPoints": {"label": "Points", "balance": {"int": 42}}, "state": "ACTIVE",
                   "textModulesData": [], "notifyPreference": "NOTIFY_ON_UPDATE"})
        );
        assert_eq!(
            balance_patch(3_000_000_000, false, &[], None, false)["loyaltyPoints"]["balance"],
            json!({"string": "3000000000"})
        );
        assert!(balance_patch(1, true, &[], None, false).get("notifyPreference").is_none());
        let module = TextModule {
            id: "vouchers",
            header: "Vouchers: 1 · ends 31 May".into(),
            body: "€5.00 · K7MX-2QE9-AB4".into(),
        };
        assert_eq!(
            balance_patch(1, true, std::slice::from_ref(&module), None, false)["textModulesData"],
            json!([{"id": "vouchers", "header": "Vouchers: 1 · ends 31 May", "body": "€5.00 · K7MX-2QE9-AB4"}])
        );
        let tier = TierLine { label: "Niveau".into(), name: "Soie".into() };
        assert_eq!(
            balance_patch(1, true, &[], Some(&tier), false)["secondaryLoyaltyPoints"],
            json!({"label": "Niveau", "balance": {"string": "Soie"}})
        );
        let o = loyalty_object(&ObjectInput { tier: Some(tier), ..object_input() });
        assert_eq!(o["secondaryLoyaltyPoints"]["balance"]["string"], "Soie");
    }

    #[test]
    fn class_writes_are_under_review() {
        let c = loyalty_class(&ClassInput {
            issuer_id: "3388",
            program_id: "p1",
            issuer_name: "Encarte Coffee",
            program_name: "Coffee Club",
            background: "#4a2c1e".into(),
            logo_url: "https://shop.example/logo.png".into(),
            homepage_url: "https://shop.example/p/coffee".into(),
            callback_url: None,
        });
        assert_eq!(c["reviewStatus"], "UNDER_REVIEW");
        assert_eq!(c["multipleDevicesAndHoldersAllowedStatus"], "ONE_USER_ALL_DEVICES");
        assert!(c.get("callbackOptions").is_none());
    }
}
