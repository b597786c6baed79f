//! The statuses stored in TEXT columns: a card's, a referral's, a promo campaign's, an outbox
//! job's. Each enum has one table of texts, used by the column (both directions), JSON and
//! messages alike; a text in the column that is not one of them fails the read, naming it, never
//! falls back to a default. The texts are stored: never rename one once shipped.

use super::Invalid;

/// Defines a status enum from `Variant = "text"` pairs, with its one conversion to and from text:
/// `as_str`/`parse`, `Display`, `Serialize`, and diesel's `ToSql`/`FromSql` for `Text` on every
/// backend whose `str`/`String` are Text (SQLite, PostgreSQL, and `DbConn`'s `MultiBackend`).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::domain::Invalid> {
                let known = [$($text),+];
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::domain::Invalid::new(format!("{} is one of {}", $what, known.join(", "))))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                $name::parse(&text).map_err(|why| $crate::domain::status::unknown_in_column(&text, &why).into())
            }
        }
    };
}
pub(crate) use text_enum;

/// The error of a column read: the stored value (cut short) and what it should have been.
pub(crate) fn unknown_in_column(text: &str, why: &Invalid) -> String {
    let shown: String = text.chars().take(40).collect();
    format!("unknown value {shown:?} in a status column: {why}")
}

text_enum! {
    /// Only an active card earns, redeems and refers; a blocked one may be unblocked; a closed
    /// one is closed for good.
    CardStatus, "a card status" {
        Active = "active",
        Blocked = "blocked",
        Closed = "closed",
    }
}

text_enum! {
    /// Pending until the referee's qualifying purchase (rewarded) or the window's end (expired);
    /// rejected at enrolment or after a race; clawed back when the purchase is returned.
    ReferralStatus, "a referral status" {
        Pending = "pending",
        Rewarded = "rewarded",
        Rejected = "rejected",
        Expired = "expired",
        ClawedBack = "clawed_back",
    }
}

text_enum! {
    /// Only an active campaign's codes are accepted; a paused one may resume; an ended one stays
    /// ended.
    CampaignStatus, "a campaign status" {
        Active = "active",
        Paused = "paused",
        Ended = "ended",
    }
}

text_enum! {
    /// An outbox job: pending (due at `run_at`), running (leased to a worker), done, or failed
    /// for good after its last attempt.
    JobState, "a job state" {
        Pending = "pending",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

text_enum! {
    /// A voucher is active until used at a purchase (or handed over, for an item), past its
    /// `expires_at` (expired), or cancelled (a reward claim undone). A full return of the
    /// purchase that used it makes it active again while still valid.
    VoucherState, "a voucher state" {
        Active = "active",
        Used = "used",
        Expired = "expired",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// Where a voucher came from: a reward claimed with points, a conversion of points (at a
    /// threshold or a season's start), a tier's entry gift, or a manager's goodwill gesture.
    VoucherOrigin, "a voucher origin" {
        Reward = "reward",
        Conversion = "conversion",
        TierEntry = "tier_entry",
        Manual = "manual",
        /// A campaign's offer to the members of a segment.
        Campaign = "campaign",
    }
}

text_enum! {
    /// How points turn into vouchers without anyone claiming them.
    ConversionMode, "a conversion mode" {
        Off = "off",
        Threshold = "threshold",
        Season = "season",
    }
}

text_enum! {
    /// A season conversion: scheduled until its `run_at`, running in chunks, then done; a
    /// cancelled one stops where it was (what is converted stays converted).
    ConversionState, "a conversion state" {
        Scheduled = "scheduled",
        Running = "running",
        Done = "done",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// Where the re-evaluation of a programme's cards after a change of its tiers stands.
    ReevaluationState, "a re-evaluation state" {
        Running = "running",
        Done = "done",
    }
}

text_enum! {
    /// Where a programme's RFM scoring stands: asked for and waiting for the worker, or done.
    RfmState, "an RFM run state" {
        Queued = "queued",
        Done = "done",
    }
}

text_enum! {
    /// Where a campaign to a segment stands: composed, due at `send_at`, being sent over its
    /// snapshot, sent, or called off before it started.
    CampaignState, "a campaign state" {
        Draft = "draft",
        Scheduled = "scheduled",
        Sending = "sending",
        Sent = "sent",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// One member of a campaign's snapshot: still to do, reached, skipped (with why), or held
    /// out on purpose to measure the campaign against.
    RecipientState, "a campaign member state" {
        Pending = "pending",
        Done = "done",
        Skipped = "skipped",
        HeldOut = "held_out",
    }
}

text_enum! {
    /// How a campaign reaches its members: their wallet pass, their e-mail.
    Channel, "a campaign channel" {
        Wallet = "wallet",
        Email = "email",
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::*;

    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Result<T, Invalid>)
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize,
    {
        for &v in all {
            assert_eq!(parse(as_str(v)), Ok(v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(as_str(v)));
        }
        for bad in ["", "Active", "ACTIVE", " active", "unknown"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn every_status_round_trips_through_its_text_and_refuses_others() {
        round_trips(CardStatus::ALL, CardStatus::as_str, CardStatus::parse);
        round_trips(ReferralStatus::ALL, ReferralStatus::as_str, ReferralStatus::parse);
        round_trips(CampaignStatus::ALL, CampaignStatus::as_str, CampaignStatus::parse);
        round_trips(JobState::ALL, JobState::as_str, JobState::parse);
        assert_eq!(ReferralStatus::ClawedBack.as_str(), "clawed_back");
        assert_eq!(
            CardStatus::parse("frozen").unwrap_err().to_string(),
            "a card status is one of active, blocked, closed"
        );
    }

    /// Through `DbConn`, as the repos use it: its `MultiBackend` binds and reads the inner backend's text.
    #[test]
    fn the_column_reads_back_what_was_written_and_refuses_an_unknown_text() {
        let mut conn = crate::db::DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        for &status in CardStatus::ALL {
            let back: CardStatus = diesel::select(status.into_sql::<Text>()).get_result(&mut conn).unwrap();
            assert_eq!(back, status);
            let text: String = diesel::select(status.into_sql::<Text>()).get_result(&mut conn).unwrap();
            assert_eq!(text, status.as_str());
        }
        for &state in JobState::ALL {
            let back: JobState = diesel::select(state.into_sql::<Text>()).get_result(&mut conn).unwrap();
            assert_eq!(back, state);
        }
        // As the log shows it: diesel names the field, its source our message.
        let chain = |e: diesel::result::Error| format!("{:#}", anyhow::Error::from(e));
        let err = chain(diesel::select("frozen".into_sql::<Text>()).get_result::<CardStatus>(&mut conn).unwrap_err());
        assert!(err.contains("\"frozen\"") && err.contains("a card status is one of"), "{err}");
        let err = diesel::select("clawed-back".into_sql::<Text>()).get_result::<ReferralStatus>(&mut conn).unwrap_err();
        assert!(chain(err).contains("\"clawed-back\""));
    }
}
