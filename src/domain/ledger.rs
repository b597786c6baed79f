/// Why a ledger entry moved points. Stored as text; never renamed once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Earn,
    Redeem,
    /// Points taken back because goods were returned, out of the balance; or points given back
    /// because a redemption was undone (linked to it in `ledger_reversals`).
    Reversal,
    /// The part of a reversal the balance could not cover: the card owes these points, and its
    /// balance stays negative until new earnings pay them back.
    Debt,
    Adjust,
    /// A referral reward, to the referrer or the referee.
    Referral,
    /// A referral reward taken back because the qualifying purchase was returned.
    ReferralClawback,
    /// Extra points from a promo code.
    Promo,
    /// Points spent on a reward from the catalogue; its voucher links back to this entry.
    Reward,
    /// Points turned into vouchers by the programme's conversion (threshold or season).
    Conversion,
    /// Points that reached the end of their validity (`PUT /program/expiry`).
    Expire,
}

impl EntryKind {
    pub const ALL: [EntryKind; 11] = [
        EntryKind::Earn,
        EntryKind::Redeem,
        EntryKind::Reversal,
        EntryKind::Debt,
        EntryKind::Adjust,
        EntryKind::Referral,
        EntryKind::ReferralClawback,
        EntryKind::Promo,
        EntryKind::Reward,
        EntryKind::Conversion,
        EntryKind::Expire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Reversal => "reversal",
            EntryKind::Debt => "debt",
            EntryKind::Adjust => "adjust",
            EntryKind::Referral => "referral",
            EntryKind::ReferralClawback => "referral_clawback",
            EntryKind::Promo => "promo",
            EntryKind::Reward => "reward",
            EntryKind::Conversion => "conversion",
            EntryKind::Expire => "expire",
        }
    }
}
