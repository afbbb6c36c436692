//! `thresh doctor`: what this machine gives thresh — cores, the instruction set the kernels
//! run with, the measured matrix-product rate, and the backends compiled in.

use crate::error::Error;
use serde::Serialize;
use std::time::Instant;
use thresh_core::gemm::{matmul, View};
use thresh_core::Threads;

/// What `thresh doctor` reports.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// thresh version.
    pub version: String,
    /// Cores this process may use.
    pub cores: usize,
    /// Threads of the pool measured with.
    pub threads: usize,
    /// The SIMD level the element-wise kernels dispatch to.
    pub simd: String,
    /// The kernel int8 layers multiply with.
    pub int8: String,
    /// Matrix-product rate on a Transformer-sized product, GFLOP/s.
    pub gemm_gflops: f64,
    /// The product measured, `m×k×n`.
    pub gemm_shape: String,
    /// Compute backends in this build.
    pub backends: Vec<String>,
}

/// Measures the machine with a pool of `threads` threads (0: every core).
pub fn run(threads: usize) -> Result<DoctorReport, Error> {
    let pool = Threads::new(threads)?;
    // The feed-forward product of a batch of 32 sequences of 128 tokens at width 128.
    let (m, k, n) = (4096, 128, 512);
    let a: Vec<f32> = (0..m * k).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let mut c = vec![0.0f32; m * n];
    let gflops = pool.install(|| {
        let mut product =
            || matmul(&mut c, n, View::new(&a, m, k), View::new(&b, n, k).t(), 1.0, false, true);
        for _ in 0..3 {
            product();
        }
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..10 {
                product();
            }
            best = best.min(start.elapsed().as_secs_f64() / 10.0);
        }
        2.0 * (m * k * n) as f64 / best / 1e9
    });
    Ok(DoctorReport {
        version: env!("CARGO_PKG_VERSION").into(),
        cores: thresh_core::threads::available_cores(),
        threads: pool.count(),
        simd: thresh_core::kernels::simd_level().to_string(),
        int8: thresh_core::qgemm::int8_kernel().to_string(),
        gemm_gflops: gflops,
        gemm_shape: format!("{m}x{k}x{n}"),
        backends: vec!["cpu (gemm crate, rayon)".into()],
    })
}

impl DoctorReport {
    /// The report as aligned text lines.
    pub fn render(&self) -> String {
        format!(
            "thresh     {}\ncores      {}\nthreads    {}\nsimd       {}\nint8       {}\n\
             gemm       {:.1} GFLOP/s ({} f32, best of 5)\nbackends   {}\n",
            self.version,
            self.cores,
            self.threads,
            self.simd,
            self.int8,
            self.gemm_gflops,
            self.gemm_shape,
            self.backends.join(", ")
        )
    }
}
