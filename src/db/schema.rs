//! One schema for both backends, kept by hand to match `migrations/{sqlite,postgres}`. A drifted
//! column fails every query on its table at run time, and the suite touches every table.

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
    }
}

diesel::table! {
    locations (id) {
        id -> Text,
        program_id -> Text,
        name -> Text,
        created_at -> Timestamp,
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
