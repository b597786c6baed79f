/// Why a ledger entry moved points. Stored as text; never renamed once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Earn,
    Redeem,
    /// Points taken back because goods were returned, out of the balance.
    Reversal,
    /// The part of a reversal the balance could not cover: the card owes these points, and its
    /// balance stays negative until new earnings pay them back.
    Debt,
    Adjust,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Reversal => "reversal",
            EntryKind::Debt => "debt",
            EntryKind::Adjust => "adjust",
        }
    }
}
