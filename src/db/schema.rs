//! One schema for both backends, kept by hand to match `migrations/{sqlite,postgres}`:
//! `tests/api/schema_drift.rs` compares it with what the migrations create, on each backend.

diesel::table! {
    programs (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        currency -> Text,
        locale -> Text,
        time_zone -> Text,
        earn_points -> BigInt,
        earn_per_cents -> BigInt,
        earn_min_cents -> BigInt,
        created_at -> Timestamp,
        pass_design -> Nullable<Text>,
        earn_rounding -> Text,
        contact_text -> Nullable<Text>,
        contact_text_fr -> Nullable<Text>,
        terms_text -> Nullable<Text>,
        terms_text_fr -> Nullable<Text>,
        public_enrolment -> Bool,
        point_value_cents -> Nullable<BigInt>,
    }
}

diesel::table! {
    locations (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        created_at -> Timestamp,
        address -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        program_id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        location_id -> Nullable<Text>,
        created_at -> Timestamp,
        token_version -> BigInt,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        program_id -> Text,
        email -> Text,
        first_name -> Text,
        phone -> Nullable<Text>,
        locale -> Text,
        created_at -> Timestamp,
        email_key -> Nullable<Text>,
        phone_key -> Nullable<Text>,
        device_key -> Nullable<Text>,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_consents (id) {
        id -> BigInt,
        program_id -> Text,
        customer_id -> Text,
        purpose -> Text,
        granted -> Bool,
        channel -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    cards (id) {
        id -> Text,
        program_id -> Text,
        customer_id -> Text,
        number -> Text,
        barcode -> Text,
        serial -> Text,
        auth_token -> Text,
        status -> Text,
        balance -> BigInt,
        pass_version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        referral_code -> Nullable<Text>,
        pass_seq -> BigInt,
        pass_updated_at -> Timestamp,
        link_token -> Text,
        apple_devices -> BigInt,
    }
}

diesel::table! {
    purchases (id) {
        id -> Text,
        program_id -> Text,
        card_id -> Text,
        location_id -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        amount_cents -> BigInt,
        currency -> Text,
        external_ref -> Nullable<Text>,
        points_earned -> BigInt,
        returned_cents -> BigInt,
        created_at -> Timestamp,
        discount_cents -> BigInt,
        bonus_points -> BigInt,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        program_id -> Text,
        card_id -> Text,
        delta -> BigInt,
        kind -> Text,
        purchase_id -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        balance_after -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (program_id, key) {
        program_id -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox_jobs (id) {
        id -> BigInt,
        program_id -> Nullable<Text>,
        kind -> Text,
        payload -> Text,
        dedupe_key -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_logins (id) {
        id -> Text,
        program_id -> Text,
        customer_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_sessions (token_hash) {
        token_hash -> Text,
        program_id -> Text,
        customer_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(cards -> customers (customer_id));
diesel::allow_tables_to_appear_in_same_query!(
    programs,
    locations,
    staff_users,
    customers,
    customer_consents,
    cards,
    purchases,
    ledger_entries,
    idempotency_keys,
    outbox_jobs,
    instance_secrets,
);

diesel::table! {
    instance_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    referral_settings (program_id) {
        program_id -> Text,
        enabled -> Bool,
        min_purchase_cents -> BigInt,
        window_days -> BigInt,
        referrer_points -> BigInt,
        referee_points -> BigInt,
        max_per_month -> Nullable<BigInt>,
        max_total -> Nullable<BigInt>,
        clawback -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    referrals (id) {
        id -> Text,
        program_id -> Text,
        referrer_card_id -> Text,
        referee_card_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        purchase_id -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    referral_rewards (referral_id, beneficiary) {
        referral_id -> Text,
        beneficiary -> Text,
        program_id -> Text,
        card_id -> Text,
        points -> BigInt,
        clawed_back -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    referral_counters (referrer_card_id, period) {
        referrer_card_id -> Text,
        period -> Text,
        program_id -> Text,
        rewarded -> BigInt,
    }
}

diesel::table! {
    promo_campaigns (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        effect -> Text,
        effect_value -> BigInt,
        min_purchase_cents -> BigInt,
        max_redemptions -> Nullable<BigInt>,
        max_per_customer -> Nullable<BigInt>,
        redemptions -> BigInt,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        days_of_week -> Nullable<Text>,
        hour_from -> Nullable<Integer>,
        hour_to -> Nullable<Integer>,
        kind -> Text,
        pool_prefix -> Nullable<Text>,
        pool_pattern -> Nullable<Text>,
        pool_length -> Nullable<Integer>,
        pool_size -> BigInt,
        pool_generated -> BigInt,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    promo_codes (id) {
        id -> BigInt,
        program_id -> Text,
        campaign_id -> Text,
        code -> Text,
        max_uses -> Nullable<BigInt>,
        uses -> BigInt,
        assigned_card_id -> Nullable<Text>,
    }
}

diesel::table! {
    promo_redemptions (id) {
        id -> Text,
        program_id -> Text,
        campaign_id -> Text,
        code_id -> BigInt,
        card_id -> Text,
        purchase_id -> Nullable<Text>,
        discount_cents -> BigInt,
        bonus_points -> BigInt,
        status -> Text,
        created_at -> Timestamp,
        rolled_back_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    promo_customer_uses (campaign_id, card_id) {
        campaign_id -> Text,
        card_id -> Text,
        uses -> BigInt,
    }
}

diesel::table! {
    rate_limits (key, window_start) {
        key -> Text,
        window_start -> Timestamp,
        hits -> BigInt,
    }
}

diesel::table! {
    apple_registrations (device_library_id, pass_type_id, serial) {
        device_library_id -> Text,
        pass_type_id -> Text,
        serial -> Text,
        program_id -> Text,
        card_id -> Text,
        push_token -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(apple_registrations -> cards (card_id));
diesel::allow_tables_to_appear_in_same_query!(apple_registrations, cards);

diesel::table! {
    pass_design_versions (name) {
        name -> Text,
        fingerprint -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    google_classes (program_id) {
        program_id -> Text,
        class_id -> Text,
        fingerprint -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    google_objects (card_id) {
        card_id -> Text,
        program_id -> Text,
        object_id -> Text,
        synced_version -> BigInt,
        synced_balance -> BigInt,
        saved -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    google_notifications (id) {
        id -> BigInt,
        card_id -> Text,
        program_id -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    google_callback_nonces (nonce) {
        nonce -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    ledger_reversals (original_entry_id) {
        original_entry_id -> BigInt,
        program_id -> Text,
        reversal_entry_id -> BigInt,
        staff_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rewards (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        name_fr -> Nullable<Text>,
        cost_points -> BigInt,
        voucher_kind -> Text,
        voucher_value -> Nullable<BigInt>,
        voucher_item -> Nullable<Text>,
        validity_days -> BigInt,
        min_purchase_cents -> BigInt,
        stock -> Nullable<BigInt>,
        active -> Bool,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    card_tiers (card_id) {
        card_id -> Text,
        program_id -> Text,
        tier_key -> Text,
        since -> Timestamp,
        upgraded_at -> Timestamp,
        checked_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tier_reevaluations (program_id) {
        program_id -> Text,
        state -> Text,
        cards_total -> BigInt,
        cards_done -> BigInt,
        cards_moved -> BigInt,
        cursor -> Nullable<Text>,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tier_history (id) {
        id -> Text,
        program_id -> Text,
        card_id -> Text,
        from_key -> Nullable<Text>,
        to_key -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tier_rewards (card_id, tier_key, period) {
        card_id -> Text,
        tier_key -> Text,
        period -> BigInt,
        program_id -> Text,
        voucher_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tier_rules (program_id) {
        program_id -> Text,
        rules -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    conversion_settings (program_id) {
        program_id -> Text,
        mode -> Text,
        threshold_points -> BigInt,
        block_points -> BigInt,
        value_cents_per_block -> BigInt,
        validity_days -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    conversions (id) {
        id -> Text,
        program_id -> Text,
        run_at -> Timestamp,
        threshold_points -> BigInt,
        block_points -> BigInt,
        value_cents_per_block -> BigInt,
        validity_days -> BigInt,
        dry_run -> Bool,
        state -> Text,
        cards_total -> BigInt,
        cards_done -> BigInt,
        cards_converted -> BigInt,
        vouchers_issued -> BigInt,
        points_converted -> BigInt,
        value_cents -> BigInt,
        cursor -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    conversion_cards (conversion_id, card_id) {
        conversion_id -> Text,
        card_id -> Text,
        program_id -> Text,
        points -> BigInt,
        vouchers -> BigInt,
        ledger_entry_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    vouchers (id) {
        id -> Text,
        program_id -> Text,
        card_id -> Text,
        code -> Text,
        kind -> Text,
        value -> Nullable<BigInt>,
        item -> Nullable<Text>,
        min_purchase_cents -> BigInt,
        state -> Text,
        origin -> Text,
        reward_id -> Nullable<Text>,
        conversion_id -> Nullable<Text>,
        ledger_entry_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        expires_at -> Timestamp,
        purchase_id -> Nullable<Text>,
        discount_cents -> Nullable<BigInt>,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(vouchers -> cards (card_id));
diesel::allow_tables_to_appear_in_same_query!(vouchers, cards, rewards, conversions, conversion_cards);

diesel::table! {
    point_lots (id) {
        id -> BigInt,
        program_id -> Text,
        card_id -> Text,
        entry_id -> Nullable<BigInt>,
        earned_at -> Timestamp,
        points -> BigInt,
        remaining -> BigInt,
    }
}

diesel::table! {
    expiry_rules (program_id) {
        program_id -> Text,
        rule -> Text,
        since -> Date,
        updated_at -> Timestamp,
        run_day -> Nullable<Date>,
        run_cursor -> Nullable<Text>,
    }
}

diesel::table! {
    expiry_reminders (card_id, ends_on) {
        card_id -> Text,
        ends_on -> Date,
        program_id -> Text,
        points -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(point_lots, cards);

diesel::table! {
    staff_invitations (id) {
        id -> Text,
        program_id -> Text,
        staff_id -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_sessions (token_hash) {
        token_hash -> Text,
        program_id -> Text,
        staff_id -> Text,
        token_version -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    program_designs (program_id, stage) {
        program_id -> Text,
        stage -> Text,
        design -> Text,
        fingerprint -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    program_design_images (program_id, stage, name) {
        program_id -> Text,
        stage -> Text,
        name -> Text,
        bytes -> Binary,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        program_id -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        changes -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(audit_log -> staff_users (actor_id));
diesel::joinable!(staff_invitations -> staff_users (staff_id));
diesel::allow_tables_to_appear_in_same_query!(audit_log, staff_users, staff_invitations);
diesel::allow_tables_to_appear_in_same_query!(card_tiers, customers);
diesel::allow_tables_to_appear_in_same_query!(card_tiers, cards);

diesel::table! {
    sales_totals (location_id, day) {
        location_id -> Text,
        day -> Date,
        program_id -> Text,
        transactions -> BigInt,
        revenue_cents -> BigInt,
        staff_id -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rfm_scores (card_id) {
        card_id -> Text,
        program_id -> Text,
        computed_on -> Date,
        days_since_last -> BigInt,
        purchases -> BigInt,
        net_spend_cents -> BigInt,
        r -> Integer,
        f -> Integer,
        m -> Integer,
        fm -> Integer,
        segment -> Text,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    rfm_runs (program_id) {
        program_id -> Text,
        state -> Text,
        window_months -> Integer,
        computed_on -> Nullable<Date>,
        members_total -> BigInt,
        members_buying -> BigInt,
        members_scored -> BigInt,
        revenue_cents -> BigInt,
        requested_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(rfm_scores, cards);
diesel::allow_tables_to_appear_in_same_query!(rfm_scores, customers);
diesel::allow_tables_to_appear_in_same_query!(rfm_runs, programs);

diesel::table! {
    segments (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        rule -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        segment_id -> Text,
        segment_name -> Text,
        title -> Text,
        body -> Text,
        title_fr -> Nullable<Text>,
        body_fr -> Nullable<Text>,
        channels -> Text,
        offer -> Nullable<Text>,
        holdout_percent -> Integer,
        state -> Text,
        send_at -> Nullable<Timestamp>,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        rule -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_members (campaign_id, card_id) {
        campaign_id -> Text,
        card_id -> Text,
        customer_id -> Text,
        holdout -> Bool,
        state -> Text,
        skip_reason -> Nullable<Text>,
        apple -> Bool,
        google -> Nullable<Text>,
        email -> Nullable<Text>,
        promo_code -> Nullable<Text>,
        voucher_id -> Nullable<Text>,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(campaign_members, campaigns);
diesel::allow_tables_to_appear_in_same_query!(campaign_members, purchases);
