use super::*;
use proptest::prelude::*;
use rand::rngs::SmallRng;

fn is_valid(code: &str) -> bool {
    match code.char_indices().last() {
        Some((i, check)) => check_symbol(&code[..i]) == Some(check),
        None => false,
    }
}

fn message(r: Result<impl std::fmt::Debug, Invalid>) -> String {
    r.expect_err("should be refused").0
}

#[test]
fn alphabet_is_31_unambiguous_symbols() {
    let symbols: HashSet<u8> = ALPHABET.iter().copied().collect();
    assert_eq!(symbols.len(), 31);
    assert!(ALPHABET.iter().all(|&b| is_code_char(b)));
    for b in *b"0O1IL" {
        assert!(!symbols.contains(&b), "{} is easily misread", char::from(b));
    }
    assert_eq!(usize::from(N), ALPHABET.len());
    assert_eq!(usize::try_from(MAX_RANDOMS).unwrap(), MAX_BODY);
}

#[test]
fn check_symbol_is_pinned() {
    // Worked by hand: K7MX2Q = 17 5 18 28 0 21; from the right 2·21=42≡11, 0, 2·28=56≡25, 18,
    // 2·5=10, 17: sum 81 ≡ 19, check 31-19 = 12 = 'E'. If this changes, issued codes break.
    assert_eq!(check_symbol("K7MX2Q"), Some('E'));
    assert_eq!(check_symbol(""), Some('2'));
    assert_eq!(check_symbol("K7MX0Q"), None);
    assert_eq!(check_symbol("k7mx2q"), None, "the body must already be canonical");
    assert_eq!(check_symbol("K7-MX"), None);
    assert_eq!(check_symbol("K7É"), None);
}

#[test]
fn textbook_digit_sum_would_miss_errors_with_31_symbols() {
    // Why doubling is reduced modulo 31: the digit sum of 2x in base 31 is not a permutation.
    let digit_sum = |x: u32| (2 * x) / 31 + (2 * x) % 31;
    assert_eq!(digit_sum(1), digit_sum(16));
    let doubled: HashSet<u8> = (0..N).map(|x| luhn_step(0, x, 0)).collect();
    assert_eq!(doubled.len(), 31);
}

proptest! {
    #[test]
    fn luhn_catches_every_substitution_and_adjacent_transposition(
        body in proptest::collection::vec(0..N, 1..=16),
    ) {
        let body: String = body.iter().map(|&x| symbol_char(x)).collect();
        let code: Vec<u8> = format!("{body}{}", check_symbol(&body).unwrap()).into_bytes();
        prop_assert!(is_valid(std::str::from_utf8(&code).unwrap()));
        for pos in 0..code.len() {
            for &other in ALPHABET.iter().filter(|&&s| s != code[pos]) {
                let mut typo = code.clone();
                typo[pos] = other;
                prop_assert!(!is_valid(std::str::from_utf8(&typo).unwrap()), "{:?}", typo);
            }
        }
        for pos in 0..code.len() - 1 {
            if code[pos] != code[pos + 1] {
                let mut swapped = code.clone();
                swapped.swap(pos, pos + 1);
                prop_assert!(!is_valid(std::str::from_utf8(&swapped).unwrap()), "{:?}", swapped);
            }
        }
    }

    #[test]
    fn referral_codes_round_trip(_i in 0..50u8) {
        let code = ReferralCode::generate();
        prop_assert_eq!(code.as_str().len(), 7);
        prop_assert!(is_valid(code.as_str()));
        let shown = code.display();
        prop_assert_eq!(&shown[4..5], "-");
        prop_assert_eq!(ReferralCode::parse(&shown).unwrap(), code.clone());
        prop_assert_eq!(ReferralCode::parse(shown.to_lowercase()).unwrap(), code.clone());
        let spaced: String = code.as_str().chars().flat_map(|c| [' ', c]).collect();
        prop_assert_eq!(ReferralCode::parse(format!("{spaced}  ")).unwrap(), code.clone());
    }

    #[test]
    fn generated_promo_codes_refuse_any_typo(pos in 0usize..40, other in 0..N) {
        let pattern = CodePattern::new(Some("noel"), Some("####-####"), None).unwrap();
        let code = pattern.generate(&mut rand::rng());
        prop_assert!(pattern.verify(&code));
        let mut typo = code.as_str().as_bytes().to_vec();
        let pos = pos % typo.len();
        prop_assume!(typo[pos] != ALPHABET[usize::from(other)]);
        typo[pos] = ALPHABET[usize::from(other)];
        let typo = PromoCode::parse(String::from_utf8(typo).unwrap()).unwrap();
        prop_assert!(!pattern.verify(&typo));
    }
}

#[test]
fn normalise_strips_what_people_add() {
    assert_eq!(normalise(" k7mx-2qe "), "K7MX2QE");
    assert_eq!(normalise("k7mx 2qe"), "K7MX2QE");
    assert_eq!(normalise("K7MX\u{2013}2QE\u{a0}"), "K7MX2QE", "en dash and no-break space");
    assert_eq!(normalise(""), "");
}

#[test]
fn referral_parse_refuses_misreadable_symbols() {
    let base = "K7MX2QE";
    assert!(ReferralCode::parse(base).is_ok());
    assert!(ReferralCode::parse("k7mx-2qe").is_ok());
    for bad in ['0', 'O', '1', 'I', 'L'] {
        let code = format!("{bad}{}", &base[1..]);
        let msg = message(ReferralCode::parse(&code));
        assert!(msg.contains("except I, L and O"), "{bad}: {msg}");
        assert!(ReferralCode::parse(code.to_lowercase()).is_err());
    }
}

#[test]
fn referral_parse_refuses_wrong_length_and_check() {
    for code in ["", "K7MX2Q", "K7MX-2QEE", "K7MX2QE2"] {
        assert_eq!(message(ReferralCode::parse(code)), "a referral code has 7 symbols", "{code}");
    }
    let msg = message(ReferralCode::parse("K7MX-2QF"));
    assert!(msg.contains("probably mistyped"), "{msg}");
    let msg = message(ReferralCode::parse("7KMX-2QE"));
    assert!(msg.contains("probably mistyped"), "{msg}");
}

#[test]
fn referral_code_serde() {
    let code: ReferralCode = serde_json::from_str("\"k7mx-2qe\"").unwrap();
    assert_eq!(code.as_str(), "K7MX2QE");
    assert_eq!(code.display(), "K7MX-2QE");
    assert_eq!(serde_json::to_string(&code).unwrap(), "\"K7MX2QE\"");
    assert!(serde_json::from_str::<ReferralCode>("\"K7MX-2QF\"").is_err());
}

#[test]
fn promo_code_parse() {
    assert_eq!(PromoCode::parse(" summer-26 ").unwrap().as_str(), "SUMMER26");
    assert_eq!(PromoCode::parse("ab1").unwrap().as_str(), "AB1");
    assert_eq!(PromoCode::parse("OIL0").unwrap().as_str(), "OIL0", "merchant codes may use any letter");
    assert!(PromoCode::parse("A".repeat(40)).is_ok());
    assert_eq!(message(PromoCode::parse("ab")), "a promo code has 3 to 40 letters and digits");
    assert_eq!(message(PromoCode::parse("A".repeat(41))), "a promo code has 3 to 40 letters and digits");
    assert_eq!(message(PromoCode::parse("  ")), "a promo code has 3 to 40 letters and digits");
    for bad in ["SUMMER!26", "SUMMER_26", "SOMMÉ26", "SUMMER.26"] {
        assert_eq!(message(PromoCode::parse(bad)), "a promo code is made of letters and digits", "{bad}");
    }
    let code: PromoCode = serde_json::from_str("\"summer 26\"").unwrap();
    assert_eq!(serde_json::to_string(&code).unwrap(), "\"SUMMER26\"");
}

#[test]
fn code_pattern_refuses_bad_configurations() {
    let long = "#-".repeat(40);
    let cases = [
        (Some("NOEL"), Some("####-####"), Some(8), "either a pattern or a length"),
        (None, Some("###"), None, "4 to 16 '#'"),
        (None, Some("####-####-####-####-#"), None, "4 to 16 '#'"),
        (None, Some("ABCD-EFGH"), None, "4 to 16 '#'"),
        (None, None, Some(3), "4 to 16 random symbols"),
        (None, None, Some(17), "4 to 16 random symbols"),
        (Some("NOEL2026PROMO"), None, None, "at most 12"),
        (Some("NOËL"), None, None, "letters and digits"),
        (Some("NOEL!"), None, None, "letters and digits"),
        (None, Some("####_####"), None, "'#' (a random symbol)"),
        (None, Some("-####-####"), None, "between groups"),
        (None, Some("####--####"), None, "between groups"),
        (None, Some("####-####-"), None, "between groups"),
        (Some("NOEL2026PROM"), Some("ABCDEFGHIJKLMNOPQRSTUVWXYZ-####"), None, "at most 40"),
        (None, Some(long.as_str()), None, "at most 40"),
    ];
    for (prefix, pattern, length, expected) in cases {
        let msg = message(CodePattern::new(prefix, pattern, length));
        assert!(msg.contains(expected), "{prefix:?} {pattern:?} {length:?}: {msg}");
    }
    // At the limits: 12 + 16 + 11 literals + 1 check = 40.
    let longest = CodePattern::new(Some("NOEL2026PROM"), Some("ABCDEFGHIJK-################"), None).unwrap();
    let code = longest.generate(&mut rand::rng());
    assert_eq!(code.as_str().len(), 40);
    assert!(longest.verify(&code));
    assert!(CodePattern::new(Some("noel-2026"), None, Some(16)).is_ok());
    assert!(CodePattern::new(Some("  "), None, Some(4)).is_ok(), "a blank prefix is no prefix");
}

#[test]
fn capacity_counts_random_symbols_only() {
    assert_eq!(CodePattern::new(None, Some("####"), None).unwrap().capacity(), 923_521);
    assert_eq!(CodePattern::new(Some("NOEL"), Some("AB##-##"), None).unwrap().capacity(), 923_521);
    assert_eq!(CodePattern::new(None, None, None).unwrap().capacity(), 31u128.pow(8));
    assert_eq!(CodePattern::new(None, None, Some(16)).unwrap().capacity(), 31u128.pow(16));
}

#[test]
fn generate_unique_gives_distinct_verified_codes() {
    let pattern = CodePattern::new(Some("NOEL"), None, Some(8)).unwrap();
    let codes = pattern.generate_unique(100_000).unwrap();
    assert_eq!(codes.len(), 100_000);
    let distinct: HashSet<&str> = codes.iter().map(PromoCode::as_str).collect();
    assert_eq!(distinct.len(), 100_000);
    let other_prefix = CodePattern::new(Some("NOEK"), None, Some(8)).unwrap();
    let no_prefix = CodePattern::new(None, None, Some(12)).unwrap();
    for code in &codes {
        assert_eq!(code.as_str().len(), 4 + 8 + 1);
        assert!(code.as_str().starts_with("NOEL"));
        assert!(pattern.verify(code), "{code:?}");
        assert!(!other_prefix.verify(code), "{code:?}");
        assert!(!no_prefix.verify(code), "the prefix is not part of the body: {code:?}");
        assert_eq!(PromoCode::parse(pattern.display(code)).as_ref(), Ok(code));
    }
}

#[test]
fn generate_unique_refuses_crowded_patterns() {
    let four = CodePattern::new(None, Some("####"), None).unwrap();
    let msg = message(four.generate_unique(1_000));
    assert!(msg.contains("923,521") && msg.contains("1,000 codes") && msg.contains("1,000,000"), "{msg}");
    assert_eq!(
        msg,
        "this pattern yields at most 923,521 codes; 1,000 codes need a pattern with at least 1,000,000 \
         possible values so that a guessed code misses 999 times in 1,000"
    );
    // 923 × 1,000 ≤ 923,521 < 924 × 1,000.
    assert_eq!(four.generate_unique(923).unwrap().len(), 923);
    assert!(four.generate_unique(924).is_err());
    let eight = CodePattern::new(None, None, None).unwrap();
    assert_eq!(message(eight.generate_unique(0)), "a batch holds 1 to 1,000,000 codes");
    assert_eq!(message(eight.generate_unique(1_000_001)), "a batch holds 1 to 1,000,000 codes");
    assert_eq!(eight.generate_unique(1).unwrap().len(), 1);
}

#[test]
fn display_puts_dashes_back() {
    let grouped = CodePattern::new(None, Some("####-####"), None).unwrap();
    let code = grouped.generate(&mut rand::rng());
    assert_eq!(code.as_str().len(), 9);
    let shown = grouped.display(&code);
    assert_eq!(shown.len(), 10);
    assert_eq!(&shown[4..5], "-");
    assert_eq!(normalise(&shown), code.as_str());

    let literal = CodePattern::new(Some("noel"), Some("xm-##-##-##"), None).unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    let code = literal.generate(&mut rng);
    assert!(literal.verify(&code));
    assert!(code.as_str().starts_with("NOELXM"));
    let shown = literal.display(&code);
    assert!(shown.starts_with("NOEL-XM-"), "{shown}");
    assert_eq!(shown.matches('-').count(), 4, "{shown}");

    let plain = CodePattern::new(Some("NOEL"), None, Some(8)).unwrap();
    assert_eq!(plain.display(&code), code.as_str(), "a code of another pattern is shown as stored");
    let code = plain.generate(&mut rng);
    assert_eq!(plain.display(&code), format!("NOEL-{}", &code.as_str()[4..]));
}

#[test]
fn verify_refuses_other_shapes() {
    let pattern = CodePattern::new(Some("NOEL"), Some("AB##-##"), None).unwrap();
    let code = pattern.generate(&mut rand::rng());
    let s = code.as_str();
    assert!(pattern.verify(&code));
    let longer = PromoCode::parse(format!("{s}2")).unwrap();
    assert!(!pattern.verify(&longer));
    let shorter = PromoCode::parse(&s[..s.len() - 1]).unwrap();
    assert!(!pattern.verify(&shorter));
    let other_literal = PromoCode::parse(s.replacen("NOELAB", "NOELAC", 1)).unwrap();
    assert!(!pattern.verify(&other_literal));
    assert!(!pattern.verify(&PromoCode::parse("SUMMER26").unwrap()));
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(923_521), "923,521");
    assert_eq!(thousands(1_000_000), "1,000,000");
}
