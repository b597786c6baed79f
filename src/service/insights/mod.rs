//! What the merchant learns from the programme: RFM segments, KPIs.

pub mod kpi_figures;
pub mod kpis;
pub mod rfm;
pub mod rfm_views;
