//! Measures the matrix-product rate on the reference model's shapes.
//!
//! `cargo run --release -p thresh-core --example gemm_shapes -- [threads]`

use std::time::Instant;
use thresh_core::gemm::{matmul, View};
use thresh_core::Threads;

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let pool = Threads::new(threads).expect("thread pool");
    // (m, k, n, transpose b): token rows × width products of the forward and backward passes.
    let shapes = [
        ("qkv fwd", 4096, 128, 384, true),
        ("ffn up fwd", 4096, 128, 512, true),
        ("ffn down fwd", 4096, 512, 128, true),
        ("ffn down dx", 4096, 128, 512, false),
        ("infer qkv", 8192, 128, 384, true),
    ];
    pool.install(|| {
        for (name, m, k, n, bt) in shapes {
            let a = vec![0.5f32; m * k];
            let b = vec![0.25f32; k * n];
            let mut c = vec![0.0f32; m * n];
            let bv = if bt { View::new(&b, n, k).t() } else { View::new(&b, k, n) };
            let reps = 50;
            for _ in 0..5 {
                matmul(&mut c, n, View::new(&a, m, k), bv, 1.0, false, true);
            }
            let start = Instant::now();
            for _ in 0..reps {
                matmul(&mut c, n, View::new(&a, m, k), bv, 1.0, false, true);
            }
            let s = start.elapsed().as_secs_f64() / reps as f64;
            println!("{name:<14} {m}x{k}x{n}: {:.1} GFLOP/s", 2.0 * (m * k * n) as f64 / s / 1e9);
        }
        // Attention-sized products, one per (sequence, head), run in parallel over sequences.
        use rayon::prelude::*;
        let (batch, heads, t, dh) = (32, 4, 128, 32);
        let q = vec![0.1f32; batch * t * 384];
        let mut s = vec![0.0f32; batch * heads * t * t];
        let start = Instant::now();
        for _ in 0..20 {
            s.par_chunks_mut(heads * t * t).enumerate().for_each(|(bi, sb)| {
                let qb = &q[bi * t * 384..];
                for h in 0..heads {
                    matmul(
                        &mut sb[h * t * t..],
                        t,
                        View::strided(&qb[h * dh..], t, dh, 384),
                        View::strided(&qb[128 + h * dh..], t, dh, 384).t(),
                        1.0,
                        false,
                        false,
                    );
                }
            });
        }
        let secs = start.elapsed().as_secs_f64() / 20.0;
        let flops = 2.0 * (batch * heads * t * t * dh) as f64;
        println!(
            "attention QKᵀ  {batch}x{heads} of {t}x{dh}x{t}: {:.1} GFLOP/s",
            flops / secs / 1e9
        );
    });
}
