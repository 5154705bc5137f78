//! Benchmark: the full reachability matrix of a generated world (1,000 pods in 50 namespaces,
//! 300 policies, two ports per pod), single thread; writes the figures to BENCHMARKS.md.
//!
//! Run with `cargo bench -p openbao-netpol --bench matrix`.

use std::error::Error;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use netpol::World;

const NAMESPACES: usize = 50;
const PODS: usize = 1_000;
const POLICIES: usize = 300;
const SEED: u64 = 0x6f70_656e_6261_6f21;
const RUNS: usize = 5;
const COMMAND: &str = "cargo bench -p openbao-netpol --bench matrix";
const START: &str = "<!-- netpol-bench:start -->";
const END: &str = "<!-- netpol-bench:end -->";

fn generate() -> Result<World, Box<dyn Error>> {
    let shape = netpol::generate::Shape {
        namespaces: NAMESPACES,
        pods: PODS,
        policies: POLICIES,
        http_port: 80,
        https_port: 443,
        seed: SEED,
    };
    Ok(netpol::generate::generate(&shape, "ns").world()?)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Replaces the section between the markers in `text`, or appends one.
fn replace_section(text: &str, section: &str) -> String {
    if let (Some(start), Some(end)) = (text.find(START), text.find(END))
        && start < end
    {
        return format!("{}{section}{}", &text[..start], &text[end + END.len()..]);
    }
    let mut out = if text.is_empty() {
        "# Benchmarks\n".to_owned()
    } else {
        text.to_owned()
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(section);
    out.push('\n');
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let world = generate()?;
    let build = started.elapsed();

    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let (mut verdicts, mut allowed) = (0usize, 0usize);
    for _ in 0..RUNS {
        let start = Instant::now();
        verdicts = 0;
        allowed = 0;
        for entry in world.matrix() {
            verdicts += 1;
            allowed += usize::from(black_box(entry).allowed);
        }
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[RUNS / 2];
    let best = times[0];
    let per_second = |d: Duration| verdicts as f64 / d.as_secs_f64();

    let section = format!(
        "{START}\n\
         ## netpol: full reachability matrix\n\n\
         World: {PODS} pods in {NAMESPACES} namespaces, {POLICIES} policies (generated, seed \
         `{SEED:#x}`), two declared ports per pod (80/TCP, 443/TCP). One pass evaluates every \
         ordered pod pair on every destination port: {verdicts} verdicts ({allowed} allowed). \
         Single thread, {RUNS} passes.\n\n\
         | Measure | Value |\n\
         |---|---|\n\
         | Verdicts per second (median pass) | {:.0} |\n\
         | Verdicts per second (best pass) | {:.0} |\n\
         | Time per pass (median) | {:.1} ms |\n\
         | Time per pass (best) | {:.1} ms |\n\
         | World build (validate + precompute) | {:.1} ms |\n\
         | CPU | {} |\n\n\
         Command: `{COMMAND}`\n\
         {END}",
        per_second(median),
        per_second(best),
        median.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        cpu_model(),
    );
    println!("{section}");

    // The workspace root is two levels above this crate (crates/netpol).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .ok_or("cannot locate the workspace root")?;
    let path = root.join("BENCHMARKS.md");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    std::fs::write(&path, replace_section(&existing, &section))?;
    println!("wrote {}", path.display());
    Ok(())
}
