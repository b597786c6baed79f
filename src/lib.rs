//! encarte: a mobile-first loyalty-card backend. See README.md and ../shared/DESIGN.md.

pub mod config;
pub mod context;
pub mod db;
pub mod domain;
pub mod dto;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod render;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod wallet;
