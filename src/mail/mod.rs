//! E-mail: what we send (one [`Mail`] per template), queued through the outbox in the caller's
//! transaction, rendered and sent by the worker, so that an SMTP outage delays mail and loses none.

mod compose;
mod transport;

use serde::{Deserialize, Serialize};

pub use compose::{
    Composed, LegacyReferral, Links, Recipient, UNSUBSCRIBE_PURPOSE, compose, message, run_job,
    run_legacy_referral_job, unsubscribe_url,
};
pub use transport::Mailer;

use crate::db::DbConn;

/// Kind of the outbox job that sends one e-mail.
pub const EMAIL: &str = "email";

/// One e-mail to send. It names rows, not their contents: the worker reads the customer's
/// address, language and consents when it sends, and no secret sits in the outbox (a magic
/// link is derived from its login id with the link key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Mail {
    /// After enrolment: the card link and the wallet links.
    Welcome { program_id: String, customer_id: String },
    /// A single-use login link, valid 15 minutes.
    MagicLink { program_id: String, customer_id: String, login_id: String },
    /// Referral points were credited to `card_id` (the referrer's or the referee's card).
    ReferralRewarded { program_id: String, referral_id: String, card_id: String, beneficiary: Beneficiary, points: i64 },
    /// A voucher was given to the customer.
    VoucherIssued {
        program_id: String,
        customer_id: String,
        title: String,
        #[serde(default)]
        description: Option<String>,
        /// In the program's currency; None for a voucher that is not an amount (a free coffee).
        #[serde(default)]
        value_cents: Option<i64>,
        /// Last day it can be used, in the program's time zone.
        #[serde(default)]
        expires_on: Option<chrono::NaiveDate>,
    },
    /// The customer moved to another tier.
    TierChanged {
        program_id: String,
        customer_id: String,
        /// None when the customer had no tier before.
        #[serde(default)]
        old_tier: Option<String>,
        new_tier: String,
        #[serde(default)]
        perks: Option<String>,
    },
    /// Points of the customer's card reach the end of their validity on `expires_on` (a local day).
    PointsExpiring { program_id: String, customer_id: String, points: i64, expires_on: chrono::NaiveDate },
    /// A staff member was invited: the link to set their password (derived from the id, as a
    /// magic link is), valid 72 hours.
    StaffInvitation { program_id: String, invitation_id: String },
    /// A campaign's message to a member of its segment (marketing: only with consent), with
    /// their own promo code when the campaign gives one, and a one-click unsubscribe link.
    Campaign {
        program_id: String,
        campaign_id: String,
        customer_id: String,
        message: crate::domain::campaign::Message,
        #[serde(default)]
        code: Option<String>,
    },
}

/// Which side of a referral a reward went to; the texts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Beneficiary {
    Referrer,
    Referee,
}

impl Beneficiary {
    pub fn as_str(self) -> &'static str {
        match self {
            Beneficiary::Referrer => "referrer",
            Beneficiary::Referee => "referee",
        }
    }
}

impl Mail {
    pub fn program_id(&self) -> &str {
        match self {
            Mail::Welcome { program_id, .. }
            | Mail::MagicLink { program_id, .. }
            | Mail::ReferralRewarded { program_id, .. }
            | Mail::VoucherIssued { program_id, .. }
            | Mail::TierChanged { program_id, .. }
            | Mail::PointsExpiring { program_id, .. }
            | Mail::StaffInvitation { program_id, .. }
            | Mail::Campaign { program_id, .. } => program_id,
        }
    }

    /// The name of its templates (`email/{name}.html`, `.txt`) and catalog keys (`email.{name}.*`).
    pub fn template(&self) -> &'static str {
        match self {
            Mail::Welcome { .. } => "welcome",
            Mail::MagicLink { .. } => "magic_link",
            Mail::ReferralRewarded { .. } => "referral_rewarded",
            Mail::VoucherIssued { .. } => "voucher_issued",
            Mail::TierChanged { .. } => "tier_changed",
            Mail::PointsExpiring { .. } => "points_expiring",
            Mail::StaffInvitation { .. } => "staff_invitation",
            Mail::Campaign { .. } => "campaign",
        }
    }

    /// Transactional mail goes whatever the consents; marketing mail only with `marketing_email`.
    /// Every variant is listed so that a new one is a decision, not a default.
    pub fn is_marketing(&self) -> bool {
        match self {
            // About the customer's own account, card and points.
            Mail::Welcome { .. }
            | Mail::MagicLink { .. }
            | Mail::ReferralRewarded { .. }
            | Mail::VoucherIssued { .. }
            | Mail::TierChanged { .. }
            | Mail::PointsExpiring { .. }
            // To a member of staff, about their access.
            | Mail::StaffInvitation { .. } => false,
            // The merchant's news and offers.
            Mail::Campaign { .. } => true,
        }
    }
}

/// An e-mail to send is a job: its payload is the mail.
impl crate::jobs::Job for Mail {
    const KIND: &'static str = EMAIL;

    fn program_id(&self) -> Option<&str> {
        Some(Mail::program_id(self))
    }
}

/// Queues `mail` in the caller's transaction.
pub fn queue(conn: &mut DbConn, mail: &Mail) -> diesel::QueryResult<()> {
    crate::jobs::Job::enqueue(mail, conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_tagged_by_template() {
        let mail = Mail::ReferralRewarded {
            program_id: "p".into(),
            referral_id: "r".into(),
            card_id: "c".into(),
            beneficiary: Beneficiary::Referee,
            points: 50,
        };
        let json = serde_json::to_value(&mail).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"template": "referral_rewarded", "program_id": "p", "referral_id": "r",
                "card_id": "c", "beneficiary": "referee", "points": 50})
        );
        assert_eq!(serde_json::from_value::<Mail>(json).unwrap(), mail);
        assert_eq!(mail.template(), "referral_rewarded");
    }
}
