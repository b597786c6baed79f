//! What the merchant learns from the programme: RFM segments, KPIs.

pub mod rfm;
pub mod rfm_views;
