//! Points expiry: the programme's rule (`rules`), the lots every balance move keeps in step
//! (`lots`), which points expire when (`schedule`), and the daily run that expires them and
//! reminds their holders (`run`).

pub mod lots;
pub mod rules;
pub mod run;
pub mod schedule;
