//! Tiers: the programme's rules (`rules`), and what they make of each card.

pub mod check;
pub mod rules;
pub mod standing;
