//! Measures each int8 kernel this CPU has, on one thread, on the projection shapes of the
//! default SST-2 model (64 sequences of 52 tokens, width 128, feed-forward 256) and of MiniLM
//! (64 sequences of 22 tokens, width 384, feed-forward 1536), and the row quantisation.
//!
//! `cargo run --release -p thresh-core --example int8_kernels`

use std::time::Instant;
use thresh_core::qgemm::{qmatmul_with, Int8Kernel, PackedWeights, QuantizedRows};

/// Best of `runs` timings of `f`, in seconds.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // (name, rows, k, n)
    let shapes = [
        ("sst2 qkv", 3328, 128, 384),
        ("sst2 ffn up", 3328, 128, 256),
        ("sst2 ffn down", 3328, 256, 128),
        ("minilm qkv", 1408, 384, 1152),
        ("minilm ffn up", 1408, 384, 1536),
        ("minilm ffn down", 1408, 1536, 384),
    ];
    let kernels = Int8Kernel::available();
    println!("{:<16} {:>7} G multiply-adds/s per kernel", "shape", "rows");
    for (name, rows, k, n) in shapes {
        let codes: Vec<i8> = (0..n * k).map(|i| ((i * 7919 % 255) as i32 - 127) as i8).collect();
        let x: Vec<f32> = (0..rows * k).map(|i| (i * 31 % 97) as f32 / 97.0 - 0.5).collect();
        let w = PackedWeights::pack(&codes, n, k);
        let (scales, bias) = (vec![0.01f32; n], vec![0.1f32; n]);
        let mut a = QuantizedRows::default();
        a.quantize(&x, k, w.padded_k());
        let mut out = vec![0.0f32; rows * n];
        let mut line = format!("{name:<16} {rows:>7}");
        for &kernel in &kernels {
            let s =
                best_of(20, || qmatmul_with(kernel, &mut out, &a, &w, &scales, Some(&bias), false));
            line += &format!("  {kernel} {:.0}", (rows * k * n) as f64 / s / 1e9);
        }
        println!("{line}");
    }
    let (rows, k) = (3328, 128);
    let x: Vec<f32> = (0..rows * k).map(|i| (i * 31 % 97) as f32 / 97.0 - 0.5).collect();
    let mut codes = vec![0i8; rows * k];
    let s = best_of(20, || {
        for (c, row) in codes.chunks_mut(k).zip(x.chunks(k)) {
            std::hint::black_box(thresh_core::qgemm::quantize_row(row, c));
        }
    });
    println!("quantise {rows} rows of {k}: {:.0} us", s * 1e6);
}
