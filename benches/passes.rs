//! Apple Wallet passes on one core: signed `.pkpass` files per second from
//! `wallet::apple::render`, against the raw RSA-2048 sign rate of `openssl speed` and against
//! passkit-generator (Node), all measured in the same run with the same certificates and images.
//! A breakdown then times the parts of `render` one by one.
//!
//! Single-threaded. `PASSES_N` (default 2000) passes per round, `PASSES_ROUNDS` (default 5)
//! rounds, each round followed by `openssl speed -seconds 1 rsa2048`; the round with the median
//! ratio is quoted. passkit-generator then makes `PASSKIT_N` (default 100) passes per round, as many
//! rounds. It runs when `node` and `benches/passkit-generator/node_modules` exist (`cd
//! benches/passkit-generator && npm install`); `PASSKIT_GENERATOR=1` makes its absence an error and
//! `PASSKIT_GENERATOR=0` skips it.
//!
//! Rates are given per second of wall time and per second of CPU time (of this thread, or of the
//! whole Node process). `openssl speed` divides by CPU time, and on a shared machine wall time also
//! counts the time spent waiting for a core, so the ratios use CPU time.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::hint::black_box;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use common::{count_f64, env_usize, percentile_ms};
use encarte::wallet::apple::bundle::sign_manifest;
use encarte::wallet::apple::{
    Design, PassInput, SigningIdentity, build_pkpass, generate_dev_chain, pass_json, pass_strings, render,
};
use encarte::wallet::{DEV_PASS_TYPE_ID, DEV_TEAM_ID};
use openssl::hash::{MessageDigest, hash};
use openssl::md::Md;
use openssl::pkey::PKey;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::Signer;
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

const WEB_SERVICE_URL: &str = "https://loyalty.example.com/wallet/apple";
const WARMUP: usize = 200;
const PASSKIT_WARMUP: usize = 20;
/// `openssl speed` times signing, then verifying, for this long each.
const OPENSSL_SECONDS: &str = "1";
/// The breakdown times each step for this long, then the next, in turn, `BREAKDOWN_SLICES` times:
/// the machine's speed drifts over seconds, and taking turns spreads the drift over all steps.
const BREAKDOWN_SLICE: Duration = Duration::from_millis(100);
const BREAKDOWN_SLICES: u32 = 15;
const RSA_GOAL: f64 = 0.80;
const PASSKIT_GOAL: f64 = 10.0;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The card data of pass `i`, different for every pass where a real card's would be. The only
/// place the bench builds a `PassInput`; `benches/passkit-generator/bench.mjs` mirrors it.
fn pass_input(i: usize) -> PassInput {
    PassInput {
        message: None,
        program_name: "Encarte Coffee".into(),
        organization: None,
        serial: format!("0190f5b2-7c1a-7d3e-9a4b-{i:012x}"),
        auth_token: format!("3f9c1d2e8a7b4c6d{i:016x}"),
        barcode: format!("ENC{i:023}"),
        display_number: format!("1234 5678 {:04}", i % 10_000),
        balance: i64::try_from(i * 37 % 100_000).unwrap_or_default(),
        member_first_name: Some("Zoé".into()),
        tier: None,
        expiry: None,
        referral_link: Some(format!("https://loyalty.example.com/r/ZOE{i}")),
        recent: vec![format!("2026-11-30  +{}", i % 50), "2026-11-28  -50".into(), "2026-11-21  +12".into()],
        vouchers_summary: None,
        vouchers: Vec::new(),
        voided: false,
        web_service_url: WEB_SERVICE_URL.into(),
        pass_type_id: DEV_PASS_TYPE_ID.into(),
        team_id: DEV_TEAM_ID.into(),
    }
}

fn run() -> anyhow::Result<()> {
    let (passes, rounds) = (env_usize("PASSES_N", 2000)?, env_usize("PASSES_ROUNDS", 5)?);
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let identity = generate_dev_chain(dir.path(), DEV_PASS_TYPE_ID, DEV_TEAM_ID)?;
    let design_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default");
    let design = Design::load(&design_dir)?;

    // Our pass must verify before its speed means anything.
    let ours = render(&identity, &design, &pass_input(0))?;
    let ours_path = dir.path().join("encarte.pkpass");
    std::fs::write(&ours_path, &ours)?;
    if let Err(log) = openssl_verify(&ours_path, &dir.path().join("root.pem"))? {
        bail!("our pass does not verify with openssl smime:\n{log}");
    }
    println!("encarte pass: {} bytes, openssl smime -verify: Verification successful", ours.len());

    for i in 1..=WARMUP {
        keep(render(&identity, &design, &pass_input(i))?)?;
    }
    let version = Command::new("openssl").arg("version").output().context("cannot run openssl version")?;
    let openssl_version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    eprintln!("render: {rounds} rounds of {passes} passes, each followed by openssl speed");
    let (mut ours, mut sign_rates) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for r in 0..rounds {
        let inputs: Vec<PassInput> = (0..passes).map(|k| pass_input(WARMUP + 1 + r * passes + k)).collect();
        ours.push(Round::time(passes, |k| keep(render(&identity, &design, &inputs[k])?))?);
        sign_rates.push(openssl_speed()?);
    }
    let node = passkit_generator(dir.path(), &design_dir, rounds)?;
    let breakdown = breakdown(&identity, &design, dir.path())?;

    println!("\nrender(), one thread, {passes} passes per round after {WARMUP} warm-up passes;");
    println!("after each round, {openssl_version}: openssl speed -seconds {OPENSSL_SECONDS} rsa2048");
    let median = print_rounds(&ours, Some(&sign_rates));
    let (our_rate, sign_per_s) = (ours[median].rate(), sign_rates[median]);
    let ratio = our_rate / sign_per_s;
    println!(
        "median round {}: {our_rate:.1} passes/s ÷ {sign_per_s:.1} sign/s = {:.1} % (on wall time: {:.1} %); \
         goal ≥ {:.0} %: {}",
        median + 1,
        ratio * 100.0,
        ours[median].wall_rate() / sign_per_s * 100.0,
        RSA_GOAL * 100.0,
        if ratio >= RSA_GOAL { "met" } else { "NOT MET" }
    );

    if let Some(node) = &node {
        println!(
            "\n{}, {}, {} passes per round after {PASSKIT_WARMUP} warm-up passes:",
            node.library, node.node, node.passes
        );
        let theirs = &node.rounds[print_rounds(&node.rounds, None)];
        println!("their pass: {} bytes, openssl smime -verify: {}", node.bytes, node.verified);
        let times = our_rate / theirs.rate();
        println!(
            "encarte ÷ passkit-generator (median rounds): {our_rate:.1} ÷ {:.1} passes/s = {times:.1} × \
             (on wall time: {:.1} ×); goal ≥ {PASSKIT_GOAL:.0} ×: {}",
            theirs.rate(),
            ours[median].wall_rate() / theirs.wall_rate(),
            if times >= PASSKIT_GOAL { "met" } else { "NOT MET" }
        );
    }

    print_breakdown(&breakdown, sign_per_s);
    Ok(())
}

/// One timed round: its wall time, the CPU time of the thread (or process) and the per-pass median.
struct Round {
    passes: usize,
    wall: Duration,
    cpu: Option<Duration>,
    median_ms: f64,
}

impl Round {
    fn time(passes: usize, mut pass: impl FnMut(usize) -> anyhow::Result<()>) -> anyhow::Result<Round> {
        let mut latencies = Vec::with_capacity(passes);
        let (cpu_start, started) = (thread_cpu(), Instant::now());
        for k in 0..passes {
            let t = Instant::now();
            pass(k)?;
            latencies.push(t.elapsed());
        }
        let wall = started.elapsed();
        let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
        latencies.sort_unstable();
        Ok(Round { passes, wall, cpu, median_ms: percentile_ms(&latencies, 50.0) })
    }

    fn wall_rate(&self) -> f64 {
        count_f64(self.passes) / self.wall.as_secs_f64()
    }

    /// Passes per second of CPU time, or of wall time where CPU time is unknown.
    fn rate(&self) -> f64 {
        match self.cpu.filter(|c| !c.is_zero()) {
            Some(cpu) => count_f64(self.passes) / cpu.as_secs_f64(),
            None => self.wall_rate(),
        }
    }
}

/// Time this thread has run on a CPU (user and system), from the scheduler; `None` off Linux.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(stat.split_whitespace().next()?.parse().ok()?))
}

/// Prints the rounds, with the `openssl speed` figure taken after each when given, and returns the
/// index of the median round: by ratio to that figure, else by rate.
fn print_rounds(rounds: &[Round], sign_rates: Option<&[f64]>) -> usize {
    let key = |i: usize| rounds[i].rate() / sign_rates.map_or(1.0, |s| s[i]);
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    let median = order[(order.len() - 1) / 2];
    let mut header = vec!["passes", "wall s", "CPU s", "CPU %", "passes/s wall", "passes/s CPU", "median ms"];
    if sign_rates.is_some() {
        header.extend(["openssl sign/s", "ratio %"]);
    }
    println!("{:<7}{}", "round", header.iter().map(|h| format!("{h:>15}")).collect::<String>());
    for (i, r) in rounds.iter().enumerate() {
        let cpu_s = r.cpu.map_or("-".into(), |c| format!("{:.3}", c.as_secs_f64()));
        let cpu_pct = r.cpu.map_or("-".into(), |c| format!("{:.0}", c.as_secs_f64() / r.wall.as_secs_f64() * 100.0));
        let cpu_rate = r.cpu.map_or("-".into(), |_| format!("{:.1}", r.rate()));
        let openssl = sign_rates.map_or(String::new(), |s| format!("{:>15.1}{:>15.1}", s[i], key(i) * 100.0));
        let mark = if i == median { " (median)" } else { "" };
        println!(
            "{:<7}{:>15}{:>15.3}{cpu_s:>15}{cpu_pct:>15}{:>15.1}{cpu_rate:>15}{:>15.3}{openssl}{mark}",
            i + 1,
            r.passes,
            r.wall.as_secs_f64(),
            r.wall_rate(),
            r.median_ms
        );
    }
    median
}

/// Unzips `pkpass` beside itself and checks the signature over `manifest.json` with the openssl
/// CLI against the development root. `Ok(Err(log))` when it does not verify.
fn openssl_verify(pkpass: &Path, root: &Path) -> anyhow::Result<Result<(), String>> {
    let out = pkpass.with_extension("unzipped");
    let unzip = Command::new("unzip").arg("-q").arg("-o").arg(pkpass).arg("-d").arg(&out).output();
    let unzip = unzip.context("cannot run unzip")?;
    ensure!(unzip.status.success(), "unzip {}: {}", pkpass.display(), String::from_utf8_lossy(&unzip.stderr));
    let verify = Command::new("openssl")
        .args(["smime", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(out.join("signature"))
        .arg("-content")
        .arg(out.join("manifest.json"))
        .arg("-CAfile")
        .arg(root)
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .context("cannot run openssl")?;
    let log = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    Ok(if verify.status.success() && log.contains("Verification successful") { Ok(()) } else { Err(log) })
}

/// RSA-2048 signs per second from `openssl speed`, which divides by CPU (user) time.
fn openssl_speed() -> anyhow::Result<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", OPENSSL_SECONDS, "rsa2048"])
        .output()
        .context("cannot run openssl speed")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "openssl speed failed: {}", String::from_utf8_lossy(&out.stderr));
    // OpenSSL 3: "rsa 2048 bits 0.000491s 0.000028s   2035.7  35510.7" (sign s, verify s, sign/s, verify/s).
    stdout
        .lines()
        .find_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["rsa", "2048", "bits", _, _, sign, _] => sign.parse::<f64>().ok(),
            _ => None,
        })
        .with_context(|| format!("no \"rsa 2048 bits\" line in the output of openssl speed:\n{stdout}"))
}

struct NodeRun {
    library: String,
    node: String,
    passes: usize,
    rounds: Vec<Round>,
    bytes: u64,
    verified: String,
}

/// Runs `benches/passkit-generator/bench.mjs` on the same certificates and images, when it can.
fn passkit_generator(certs: &Path, design_dir: &Path, rounds: usize) -> anyhow::Result<Option<NodeRun>> {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/passkit-generator");
    let required = match std::env::var("PASSKIT_GENERATOR").as_deref() {
        Ok("0") => return Ok(None),
        Ok("1") => true,
        _ => false,
    };
    let node_ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let installed = script_dir.join("node_modules/passkit-generator").is_dir();
    if !node_ok || !installed {
        let why = if node_ok { "run `npm install` in benches/passkit-generator" } else { "node is not installed" };
        ensure!(!required, "PASSKIT_GENERATOR=1 but passkit-generator cannot run: {why}");
        eprintln!("passkit-generator skipped: {why}");
        return Ok(None);
    }
    let passes = env_usize("PASSKIT_N", 100)?;
    let out_path = certs.join("passkit-generator.pkpass");
    eprintln!("passkit-generator: {rounds} rounds of {passes} passes");
    let out = Command::new("node")
        .current_dir(&script_dir)
        .arg("bench.mjs")
        .arg("--certs")
        .arg(certs)
        .arg("--design")
        .arg(design_dir)
        .args(["--passes", &passes.to_string(), "--rounds", &rounds.to_string()])
        .args(["--warmup", &PASSKIT_WARMUP.to_string()])
        .args(["--pass-type-id", DEV_PASS_TYPE_ID, "--team-id", DEV_TEAM_ID])
        .arg("--out")
        .arg(&out_path)
        .output()
        .context("cannot run node")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "bench.mjs failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .with_context(|| format!("no JSON report from bench.mjs: {stdout}"))?;
    let text = |key: &str| report[key].as_str().unwrap_or("?").to_owned();
    let number = |v: &Value, key: &str| v[key].as_f64().with_context(|| format!("bench.mjs report without {key}"));
    let rounds = report["rounds"]
        .as_array()
        .context("bench.mjs report without rounds")?
        .iter()
        .map(|r| {
            Ok(Round {
                passes,
                wall: Duration::from_secs_f64(number(r, "wall_s")?),
                cpu: Some(Duration::from_secs_f64(number(r, "cpu_s")?)),
                median_ms: number(r, "median_ms")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    ensure!(!rounds.is_empty(), "bench.mjs reported no rounds");
    let verified = match openssl_verify(&out_path, &certs.join("root.pem"))? {
        Ok(()) => "Verification successful".to_owned(),
        Err(log) => format!("DOES NOT VERIFY: {}", log.trim()),
    };
    let bytes = std::fs::metadata(&out_path)?.len();
    Ok(Some(NodeRun { library: text("library"), node: text("node"), passes, rounds, bytes, verified }))
}

/// The time of one call of a part of `render` (or of an alternative to it): the median over the
/// slices of their mean wall time per call. The CPU time is read from the scheduler, which updates
/// it once per tick (4 ms here): too coarse for a slice, so it is only summed over the breakdown.
struct Step {
    name: &'static str,
    call: Duration,
}

struct Breakdown {
    steps: Vec<Step>,
    /// Archive bytes from `render`, then from the replica with the per-pass files deflated (as
    /// `bundle.rs`), at level 1, and stored.
    sizes: [usize; 4],
    /// CPU time over wall time, all slices together.
    cpu_share: Option<f64>,
}

/// Times each part of `render` on its own. The manifest and zip steps are replicas of `bundle.rs`
/// (its parts are not public); two cheaper ways of zipping and a reused RSA context show what
/// they would save.
fn breakdown(identity: &SigningIdentity, design: &Design, certs: &Path) -> anyhow::Result<Breakdown> {
    eprintln!("breakdown: {BREAKDOWN_SLICES} slices of {BREAKDOWN_SLICE:?} per step");
    let input = pass_input(1);
    let (json, strings) = (pass_json(&input, design)?, pass_strings(design));
    let pkpass = render(identity, design, &input)?;
    // The per-pass files and the images, as `render` put them in the archive.
    let mut archive = ZipArchive::new(Cursor::new(pkpass.as_slice()))?;
    let (mut per_pass, mut images) = (Vec::new(), Vec::new());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let entry = (file.name()?.into_owned(), data);
        if entry.0.ends_with(".png") { images.push(entry) } else { per_pass.push(entry) }
    }
    let manifest = per_pass.iter().find(|(n, _)| n == "manifest.json").context("no manifest.json")?.1.clone();
    let hashed: Vec<&(String, Vec<u8>)> =
        per_pass.iter().filter(|(n, _)| n != "manifest.json" && n != "signature").collect();
    let images_zip = {
        let options = deflated().compression_level(Some(9));
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in &images {
            zip.start_file(name.as_str(), options)?;
            zip.write_all(data)?;
        }
        zip.finish()?.into_inner()
    };
    let zip_pass = |options: SimpleFileOptions| {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in &hashed {
            zip.start_file(name.as_str(), options)?;
            zip.write_all(data)?;
        }
        zip.merge_archive(ZipArchive::new(Cursor::new(images_zip.as_slice()))?)?;
        for (name, data) in per_pass.iter().filter(|(n, _)| n == "manifest.json" || n == "signature") {
            zip.start_file(name.as_str(), options)?;
            zip.write_all(data)?;
        }
        anyhow::Ok(zip.finish()?.into_inner())
    };
    let stored = || SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let level_1 = || deflated().compression_level(Some(1));
    let sizes = [pkpass.len(), zip_pass(deflated())?.len(), zip_pass(level_1())?.len(), zip_pass(stored())?.len()];
    let key = PKey::private_key_from_pem(&std::fs::read(certs.join("pass.key"))?)?;
    let mut reused = PkeyCtx::new(&key)?;
    reused.sign_init()?;
    reused.set_rsa_padding(Padding::PKCS1)?;
    reused.set_signature_md(Md::sha256())?;
    let inputs: Vec<PassInput> = (0..1000).map(|k| pass_input(1_000_000 + k)).collect();

    type Work<'a> = Box<dyn FnMut(usize) -> anyhow::Result<()> + 'a>;
    let mut work: Vec<(&'static str, Work)> = vec![
        ("render (all of it)", Box::new(|k| keep(render(identity, design, &inputs[k])?))),
        ("identity.check", Box::new(|k| Ok(identity.check(Some(&inputs[k].pass_type_id), Some(&inputs[k].team_id))?))),
        ("pass_json", Box::new(|k| keep(pass_json(&inputs[k], design)?))),
        ("pass_strings", Box::new(|_| keep(pass_strings(design)))),
        (
            "build_pkpass (manifest, signature, zip)",
            Box::new(|_| keep(build_pkpass(identity, design, &json, &strings)?)),
        ),
        (
            "  manifest: SHA-1s and JSON (replica)",
            Box::new(|_| {
                let mut digests = std::collections::BTreeMap::new();
                for (name, data) in &hashed {
                    digests.insert(name.as_str(), hex::encode(hash(MessageDigest::sha1(), data)?));
                }
                digests.extend(design.image_digests().map(|(name, sha1)| (name, sha1.to_owned())));
                keep(serde_json::to_vec(&digests)?)
            }),
        ),
        ("  sign_manifest (PKCS#7 SignedData)", Box::new(|_| keep(sign_manifest(identity, &manifest)?))),
        (
            "    RSA sign, new EVP context (Signer)",
            Box::new(|_| {
                let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
                signer.update(&manifest)?;
                keep(signer.sign_to_vec()?)
            }),
        ),
        (
            "    RSA sign, reused EVP_PKEY_CTX",
            Box::new(|_| {
                let (digest, mut signature) = (hash(MessageDigest::sha256(), &manifest)?, Vec::new());
                reused.sign_to_vec(&digest, &mut signature)?;
                keep(signature)
            }),
        ),
        ("  zip: deflate + image copy (replica)", Box::new(|_| keep(zip_pass(deflated())?))),
        ("  zip: deflate level 1 + image copy", Box::new(|_| keep(zip_pass(level_1())?))),
        ("  zip: stored + image copy", Box::new(|_| keep(zip_pass(stored())?))),
    ];
    // Steps take turns, a slice each; each step's figure is the median of its slices.
    let mut slices: Vec<Vec<Duration>> = work.iter().map(|_| Vec::new()).collect();
    let (cpu_start, started) = (thread_cpu(), Instant::now());
    for _ in 0..BREAKDOWN_SLICES {
        for ((_, f), slices) in work.iter_mut().zip(&mut slices) {
            let (slice_start, mut calls) = (Instant::now(), 0u32);
            while slice_start.elapsed() < BREAKDOWN_SLICE {
                f(calls as usize % inputs.len())?;
                calls += 1;
            }
            slices.push(slice_start.elapsed() / calls);
        }
    }
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    let cpu_share = cpu.map(|cpu| cpu.as_secs_f64() / started.elapsed().as_secs_f64());
    let steps = work
        .iter()
        .zip(slices)
        .map(|((name, _), mut slices)| {
            slices.sort_unstable();
            Step { name, call: slices[slices.len() / 2] }
        })
        .collect();
    Ok(Breakdown { steps, sizes, cpu_share })
}

/// What `bundle.rs` writes the per-pass files with.
fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// Keeps the optimiser from dropping the work that made `value`.
// A `Result`, so that every timed closure can end in it.
#[allow(clippy::unnecessary_wraps)]
fn keep<T>(value: T) -> anyhow::Result<()> {
    black_box(value);
    Ok(())
}

fn print_breakdown(breakdown: &Breakdown, sign_per_s: f64) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let get =
        |prefix: &str| breakdown.steps.iter().find(|s| s.name.trim_start().starts_with(prefix)).map(|s| us(s.call));
    let total = get("render");
    let cpu = breakdown.cpu_share.map_or(String::new(), |c| format!(", on CPU {:.0} % of the time", c * 100.0));
    println!(
        "\nWhere the time goes: one call, one thread; median of {BREAKDOWN_SLICES} slices of {} ms per step, \
         taken in turn{cpu}",
        BREAKDOWN_SLICE.as_millis()
    );
    println!("{:<46}{:>10}{:>13}", "step", "µs", "% of render");
    let share = |v: f64| total.map_or("-".into(), |t| format!("{:.1}", v / t * 100.0));
    for s in &breakdown.steps {
        println!("{:<46}{:>10.1}{:>13}", s.name, us(s.call), share(us(s.call)));
    }
    let derived = [
        ("= build_pkpass − sign_manifest", get("build_pkpass").zip(get("sign_manifest")).map(|(b, s)| b - s)),
        (
            "= PKCS#7 beyond RSA (sign_manifest − Signer)",
            get("sign_manifest").zip(get("RSA sign, new")).map(|(s, r)| s - r),
        ),
        ("openssl speed: one RSA sign (median round)", Some(1e6 / sign_per_s)),
        ("one pass at 80 % of openssl speed", Some(1e6 / (sign_per_s * RSA_GOAL))),
    ];
    for (name, v) in derived.iter().filter_map(|(n, v)| Some((n, (*v)?))) {
        println!("{name:<46}{v:>10.1}{:>13}", share(v));
    }
    // The same ratio as the rounds', from steps timed side by side: the reused context is what
    // `openssl speed` times. Then the floor of a pass without deflate, PKCS7_sign or a new context
    // per call, and with pass.strings made once per design: a bound on what those changes can give.
    let parts = ["identity.check", "pass_json", "manifest", "RSA sign, reused", "zip: stored"];
    let floor = parts.iter().map(|p| get(p)).sum::<Option<f64>>();
    if let (Some(rsa), Some(render), Some(floor)) = (get("RSA sign, reused"), total, floor) {
        println!("passes/s ÷ in-process sign/s (reused context): {:.1} %", rsa / render * 100.0);
        println!("floor, {}: {floor:.1} µs, {:.1} %", parts.join(" + "), rsa / floor * 100.0);
    }
    let [rendered, deflate, level_1, stored] = breakdown.sizes;
    println!(
        "archive bytes: {rendered} from render, {deflate} from the replica; per-pass files at deflate level 1: \
         {level_1}, stored: {stored}"
    );
}
