//! Cost of minting codes in bulk: `CodePattern::generate_unique(1_000_000)` (the largest batch a
//! merchant may ask for) and 1,000,000 `ReferralCode::generate()` calls (one per enrolment), plus
//! the generator's share of it, cryptographic (ChaCha12) versus not (Xoshiro). Single-threaded;
//! figures are for comparing runs on one machine.
//!
//! `BENCH_RUNS` (default 5) sets how many timed runs each measurement takes.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use encarte::domain::codes::{CodePattern, ReferralCode};
use rand::SeedableRng;
use rand::rngs::{SmallRng, StdRng};

const BATCH: usize = 1_000_000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let runs = match std::env::var("BENCH_RUNS") {
        Ok(v) => v.parse::<usize>().ok().filter(|&n| n > 0).ok_or("BENCH_RUNS must be a positive integer")?,
        Err(_) => 5,
    };
    let pattern = CodePattern::new(Some("NOEL"), None, Some(8)).map_err(|e| e.to_string())?;

    // One untimed batch: page faults and allocator growth are paid once, as in a running server.
    let warm = pattern.generate_unique(BATCH).map_err(|e| e.to_string())?;
    if warm.len() != BATCH || !warm.iter().all(|c| pattern.verify(c)) {
        return Err("generate_unique returned a wrong batch".into());
    }
    drop(warm);

    report(
        "generate_unique(1,000,000), prefix NOEL, 8 random symbols",
        &measure(runs, || {
            let codes = pattern.generate_unique(BATCH).map_err(|e| e.to_string())?;
            black_box(codes);
            Ok(())
        })?,
    );
    report(
        "1,000,000 ReferralCode::generate()",
        &measure(runs, || {
            for _ in 0..BATCH {
                black_box(ReferralCode::generate());
            }
            Ok(())
        })?,
    );
    // Without the uniqueness bookkeeping: what the random generator itself costs.
    let mut chacha = StdRng::from_rng(&mut rand::rng());
    report(
        "1,000,000 CodePattern::generate(), StdRng (ChaCha12, used by generate_unique)",
        &measure(runs, || {
            for _ in 0..BATCH {
                black_box(pattern.generate(&mut chacha));
            }
            Ok(())
        })?,
    );
    let mut xoshiro = SmallRng::from_rng(&mut rand::rng());
    report(
        "1,000,000 CodePattern::generate(), SmallRng (Xoshiro256++, not cryptographic)",
        &measure(runs, || {
            for _ in 0..BATCH {
                black_box(pattern.generate(&mut xoshiro));
            }
            Ok(())
        })?,
    );
    Ok(())
}

/// Every run's duration, sorted.
fn measure(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

fn report(what: &str, sorted: &[Duration]) {
    let (Some(min), Some(median)) = (sorted.first(), sorted.get(sorted.len() / 2)) else {
        return;
    };
    let per_second = u128::try_from(BATCH).unwrap_or(0) * 1_000_000 / median.as_micros().max(1);
    println!(
        "{what}: median {} s, min {} s over {} runs, {per_second} codes/s (median)",
        seconds(*median),
        seconds(*min),
        sorted.len()
    );
}

/// "0.123" without floats: milliseconds as seconds with three decimals.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}
