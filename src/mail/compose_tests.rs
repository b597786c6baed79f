//! Every e-mail, rendered in every language with sample data: a missing variable or catalog key
//! fails here, not in a customer's inbox.

use super::*;

fn templates() -> Templates {
    Templates::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")).expect("templates load")
}

fn recipient(lang: Lang) -> Recipient {
    Recipient {
        email: "zoe@example.fr".into(),
        first_name: "<b>Zoé</b>".into(),
        lang,
        program_name: "Café Lumière".into(),
        currency: "EUR".into(),
        card_number: "4000 1234 5678".into(),
        link_token: "tok123".into(),
        referral_code: Some("ZOE42".into()),
        balance: 150,
    }
}

const URL: &str = "https://loyalty.example";

fn links(key: &LinkKey, google_wallet: bool) -> Links<'_> {
    Links { public_url: URL, link_key: key, apple_wallet: true, google_wallet }
}

fn ids() -> (String, String) {
    ("p1".to_owned(), "c1".to_owned())
}

/// (mail, expected subject per language, a phrase of the body per language, the main link)
fn samples(key: &LinkKey) -> Vec<(Mail, [&'static str; 2], [&'static str; 2], String)> {
    let (program_id, customer_id) = ids();
    let card = format!("{URL}/c/tok123");
    vec![
        (
            Mail::Welcome { program_id: program_id.clone(), customer_id: customer_id.clone() },
            ["Your Café Lumière card is ready", "Votre carte Café Lumière est prête"],
            ["Add to Apple Wallet", "Ajouter à Apple Wallet"],
            card.clone(),
        ),
        (
            Mail::MagicLink { program_id: program_id.clone(), customer_id: customer_id.clone(), login_id: "L1".into() },
            ["Your sign-in link for Café Lumière", "Votre lien de connexion à Café Lumière"],
            ["valid for 15 minutes and works only once", "valable 15 minutes et ne fonctionne qu'une seule fois"],
            format!("{URL}/login/{}", key.sign("login", "L1")),
        ),
        (
            Mail::ReferralRewarded {
                program_id: program_id.clone(),
                referral_id: "r1".into(),
                card_id: "k1".into(),
                beneficiary: Beneficiary::Referrer,
                points: 100,
            },
            ["You earned 100 points", "Vous avez gagné 100 points"],
            ["Thanks to you, a friend joined", "Grâce à vous, un proche a rejoint"],
            card.clone(),
        ),
        (
            Mail::ReferralRewarded {
                program_id: program_id.clone(),
                referral_id: "r1".into(),
                card_id: "k2".into(),
                beneficiary: Beneficiary::Referee,
                points: 50,
            },
            ["You earned 50 points", "Vous avez gagné 50 points"],
            ["A friend recommended Café Lumière to you", "Un proche vous a recommandé Café Lumière"],
            card.clone(),
        ),
        (
            Mail::VoucherIssued {
                program_id: program_id.clone(),
                customer_id: customer_id.clone(),
                title: "Free coffee".into(),
                description: Some("Any size".into()),
                value_cents: Some(500),
                expires_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
            },
            ["A voucher for you: Free coffee", "Un bon vous attend\u{a0}: Free coffee"],
            ["Valid until 31 December 2026.", "Valable jusqu'au 31 décembre 2026."],
            card.clone(),
        ),
        (
            Mail::PointsExpiring {
                program_id: program_id.clone(),
                customer_id: customer_id.clone(),
                points: 120,
                expires_on: chrono::NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
            },
            ["120 points expire on 31 March 2027", "120 points expirent le 31 mars 2027"],
            ["120 points on your Café Lumière card expire", "120 points de votre carte Café Lumière expirent"],
            card.clone(),
        ),
        (
            Mail::StaffInvitation { program_id: program_id.clone(), invitation_id: "i1".into() },
            ["You are invited to the Café Lumière console", "Vous êtes invité(e) sur la console Café Lumière"],
            ["Choose your password to sign in", "Choisissez votre mot de passe pour vous connecter"],
            format!("{URL}{}", crate::service::staff::invitation_path(key, "i1")),
        ),
        (
            Mail::Campaign {
                program_id: program_id.clone(),
                campaign_id: "k1".into(),
                customer_id: customer_id.clone(),
                message: crate::domain::campaign::Message {
                    title: "Private sale".into(),
                    body: "Members only.\nThis weekend.".into(),
                    title_fr: Some("Vente privée".into()),
                    body_fr: Some("Réservée aux membres.".into()),
                },
                code: Some("VIP-7K2M".into()),
            },
            ["Private sale", "Vente privée"],
            ["This weekend.", "Réservée aux membres."],
            super::unsubscribe_url(&links(key, false), &program_id, &customer_id),
        ),
        (
            Mail::TierChanged {
                program_id,
                customer_id,
                old_tier: Some("Silver".into()),
                new_tier: "Gold".into(),
                perks: Some("Double points on Saturdays".into()),
            },
            ["Your new level: Gold", "Votre nouveau niveau\u{a0}: Gold"],
            ["has moved to the Gold level", "passe au niveau Gold"],
            card,
        ),
    ]
}

/// As minijinja escapes text into HTML (links go through the `url` filter, which keeps `/`).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[test]
fn every_email_renders_in_every_language() {
    let (templates, key) = (templates(), LinkKey::derive(b"test"));
    let mut rendered = std::collections::BTreeSet::new();
    for (mail, subjects, phrases, link) in samples(&key) {
        rendered.insert(mail.template());
        for (i, lang) in Lang::ALL.into_iter().enumerate() {
            let what = format!("{} in {lang:?}", mail.template());
            let out = compose(&templates, &mail, &recipient(lang), &links(&key, false)).expect(&what);
            if std::env::var_os("SHOW_MAIL").is_some() {
                eprintln!("=== {what}\n{}\n---\n{}", out.text, out.html);
            }
            assert_eq!(out.subject, subjects[i], "{what}");
            for (part, body, phrase, link) in [
                ("html", &out.html, escaped(phrases[i]), link.clone()),
                ("text", &out.text, phrases[i].to_owned(), link.clone()),
            ] {
                assert!(body.contains(&phrase), "{what} {part} lacks {phrase:?}:\n{body}");
                assert!(body.contains(&link), "{what} {part} lacks {link}:\n{body}");
            }
            assert!(out.html.contains("&lt;b&gt;Zoé&lt;&#x2f;b&gt;"), "{what}: the name is escaped:\n{}", out.html);
            assert!(!out.html.contains("<b>Zoé"), "{what}");
            assert!(out.text.contains("<b>Zoé</b>"), "{what}: text is not HTML-escaped");
            assert!(out.html.contains(&format!("<html lang=\"{}\">", lang.as_str())), "{what}");
            assert!(out.html.contains(&format!("href=\"{link}\"")), "{what}: the link is a plain href");
        }
    }
    // Every template on disk has a sample above.
    let on_disk: std::collections::BTreeSet<String> = templates
        .names()
        .into_iter()
        .filter_map(|n| n.strip_prefix("email/").and_then(|n| n.strip_suffix(".txt")).map(str::to_owned))
        .collect();
    assert_eq!(on_disk, rendered.into_iter().map(str::to_owned).collect());
}

#[test]
fn welcome_offers_google_wallet_only_when_configured_and_the_referral_link_only_with_a_code() {
    let (templates, key) = (templates(), LinkKey::derive(b"test"));
    let (program_id, customer_id) = ids();
    let mail = Mail::Welcome { program_id, customer_id };
    let google = format!("{URL}/c/tok123/google");
    let apple = format!("{URL}/c/tok123/pass.pkpass");
    let referral = format!("{URL}/r/ZOE42");

    let with = compose(&templates, &mail, &recipient(Lang::En), &links(&key, true)).unwrap();
    for body in [&with.html, &with.text] {
        assert!(body.contains(&google) && body.contains("Add to Google Wallet"), "{body}");
        assert!(body.contains(&apple) && body.contains(&referral), "{body}");
        assert!(body.contains("Card number: 4000 1234 5678"), "{body}");
    }

    let mut no_code = recipient(Lang::Fr);
    no_code.referral_code = None;
    let without = compose(&templates, &mail, &no_code, &links(&key, false)).unwrap();
    for body in [&without.html, &without.text] {
        assert!(!body.contains("/google") && !body.contains("Google Wallet"), "{body}");
        assert!(!body.contains("/r/") && !body.contains("Parrainez"), "{body}");
        assert!(body.contains(&apple), "{body}");
    }

    // Signed with the development chain, a pass would be refused by every iPhone: no Apple link.
    let dev = Links { apple_wallet: false, ..links(&key, false) };
    let without_apple = compose(&templates, &mail, &recipient(Lang::En), &dev).unwrap();
    for body in [&without_apple.html, &without_apple.text] {
        assert!(!body.contains("pass.pkpass") && !body.contains("Apple Wallet"), "{body}");
        assert!(!body.contains("Keep it on your phone"), "no wallet heading without a wallet: {body}");
    }
}

#[test]
fn the_message_is_from_the_program_to_the_customer_with_both_parts() {
    let (templates, key) = (templates(), LinkKey::derive(b"test"));
    let (program_id, customer_id) = ids();
    let to = recipient(Lang::Fr);
    let composed = compose(&templates, &Mail::Welcome { program_id, customer_id }, &to, &links(&key, false)).unwrap();
    let from: Mailbox = "encarte <no-reply@mail.example>".parse().unwrap();
    let message = message(&from, &to, composed).unwrap();
    let envelope = message.envelope();
    assert_eq!(envelope.from().map(ToString::to_string).as_deref(), Some("no-reply@mail.example"));
    assert_eq!(envelope.to().iter().map(ToString::to_string).collect::<Vec<_>>(), ["zoe@example.fr"]);
    let raw = String::from_utf8(message.formatted()).unwrap();
    let headers = raw.split("\r\n\r\n").next().unwrap();
    assert!(headers.contains("From: =?utf-8?b?"), "the program's name is encoded: {headers}");
    assert!(headers.contains("<no-reply@mail.example>"), "{headers}");
    assert!(headers.contains("Message-ID: <") && headers.contains("@mail.example>"), "{headers}");
    assert!(headers.contains("Content-Type: multipart/alternative"), "{headers}");
    assert!(raw.contains("Content-Type: text/plain; charset=utf-8"), "{raw}");
    assert!(raw.contains("Content-Type: text/html; charset=utf-8"), "{raw}");
}

#[test]
fn money_and_dates_read_naturally() {
    assert_eq!(crate::domain::money::display(500, "EUR", Lang::En), "€5.00");
    assert_eq!(crate::domain::money::display(1234, "EUR", Lang::Fr), "12,34\u{a0}€");
    assert_eq!(crate::domain::money::display(-5, "CHF", Lang::En), "-0.05 CHF");
    let day = chrono::NaiveDate::from_ymd_opt(2027, 8, 1).unwrap();
    assert_eq!(date(day, Lang::En), "1 August 2027");
    assert_eq!(date(day, Lang::Fr), "1 août 2027");
}

#[test]
fn marketing_needs_a_granted_marketing_email_consent() {
    use crate::db::repo::customers::Consent;
    let consent = |purpose: &str, granted| Consent {
        purpose: purpose.into(),
        granted,
        channel: "staff_api".into(),
        created_at: chrono::NaiveDateTime::default(),
    };
    assert!(!marketing_allowed(&[]));
    assert!(!marketing_allowed(&[consent("marketing_email", false), consent("marketing_sms", true)]));
    assert!(!marketing_allowed(&[consent("terms", true), consent("profiling", true)]));
    assert!(marketing_allowed(&[consent("terms", true), consent("marketing_email", true)]));
}
