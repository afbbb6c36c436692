//! The int8 product on Intel AMX (Advanced Matrix Extensions, Sapphire Rapids and later).
//!
//! AMX adds eight tile registers of up to 16 rows by 64 bytes and `tdpbssd`, which multiplies
//! a tile of 16 × 64 signed activation bytes by a tile of 64 × 16 signed weight bytes (stored
//! as 16 rows of 16 channels by 4 bytes) and adds the 16 × 16 products, each a sum of 64, into
//! a tile of 32-bit sums: 16,384 multiply-adds in one instruction, against 1,024 for the
//! AVX-512 VNNI kernel's sixteen `vpdpbusd`. The packed weight layout of [`super`] is already
//! a sequence of such weight tiles: block `b`'s groups `16j..16j + 16` are 1,024 contiguous
//! bytes. Both operands are signed, so no offset correction is needed.
//!
//! Four accumulator tiles cover 32 rows by 32 channels; each step over 64 inputs loads two
//! activation tiles and two weight tiles and runs four `tdpbssd`. Sums are exact, and the
//! epilogue (row scale times channel scale, then the bias) is the VNNI kernel's, so the
//! outputs are bit-identical to every other kernel's. Shapes whose padded depth is not a
//! multiple of 64 go to the VNNI kernel (the caller chooses).
//!
//! Stable Rust has no AMX intrinsics, so the tile instructions are inline assembly. Linux
//! hands the tile registers to a process only after it asks (`arch_prctl`), which
//! [`detect`] does once.

use super::x86::Epilogue;
use super::{AMX_TILE_K as TILE_K, BLOCK, KSTEP};
use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::OnceLock;

/// Rows per tile (each of `TILE_K` activation bytes).
const TILE_ROWS: usize = 16;

/// Whether this CPU has AMX-TILE and AMX-INT8 and this process may use the tile registers
/// (asked for once), besides the AVX-512 the VNNI fallback and the epilogue need.
pub(super) fn detect() -> bool {
    static AMX: OnceLock<bool> = OnceLock::new();
    *AMX.get_or_init(|| super::detect_vnni() && cpu_has_amx_int8() && request_tile_data())
}

fn cpu_has_amx_int8() -> bool {
    // Leaf 7 exists when leaf 0 reports it.
    if __cpuid(0).eax < 7 {
        return false;
    }
    let edx = __cpuid_count(7, 0).edx;
    // EDX bit 24: AMX-TILE; bit 25: AMX-INT8.
    edx & (1 << 24) != 0 && edx & (1 << 25) != 0
}

/// Asks Linux for the tile data state (`ARCH_REQ_XCOMP_PERM`, feature 18); without it the
/// first tile instruction would kill the process.
#[cfg(target_os = "linux")]
fn request_tile_data() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes the process's permission to use
    // the AMX state; it reads and writes no memory of ours.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn request_tile_data() -> bool {
    false
}

/// The 64-byte tile configuration `ldtilecfg` reads: palette 1, every tile 16 rows of 64
/// bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl TileConfig {
    fn full() -> Self {
        let mut c = TileConfig {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [0; 16],
            rows: [0; 16],
        };
        c.bytes_per_row[..8].fill(TILE_K as u16);
        c.rows[..8].fill(TILE_ROWS as u8);
        c
    }
}

/// `tileloadd tmmN, [ptr + stride·row]` for the named tile.
macro_rules! tile_load {
    ($tile:literal, $ptr:expr, $stride:expr) => {
        asm!(
            concat!("tileloadd ", $tile, ", [{p} + {s}*1]"),
            p = in(reg) $ptr,
            s = in(reg) $stride,
            options(nostack, readonly, preserves_flags)
        )
    };
}

/// `tdpbssd acc, a, b`: `acc += a · b` in signed bytes with 32-bit sums.
macro_rules! tile_dot {
    ($acc:literal, $a:literal, $b:literal) => {
        asm!(
            concat!("tdpbssd ", $acc, ", ", $a, ", ", $b),
            options(nostack, nomem, preserves_flags)
        )
    };
}

/// `tilestored [ptr + stride·row], tmmN`.
macro_rules! tile_store {
    ($tile:literal, $ptr:expr, $stride:expr) => {
        asm!(
            concat!("tilestored [{p} + {s}*1], ", $tile),
            p = in(reg) $ptr,
            s = in(reg) $stride,
            options(nostack, preserves_flags)
        )
    };
}

/// Sums of `nr` rows by `nb` blocks, scaled into `out` as the VNNI kernel does (same
/// results).
///
/// # Safety
/// [`detect`] must have returned true and `kp` must be a multiple of 64. `a` holds `nr` rows
/// of `kp` codes, `w` `nb` packed blocks of `kp / 4` groups, `out` `nr` rows of `ctx.ld` with
/// room for `ctx`'s channels.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn amx_panel(
    a: &[i8],
    w: &[i8],
    kp: usize,
    nr: usize,
    nb: usize,
    ctx: &Epilogue<'_>,
    out: &mut [f32],
) {
    let groups = kp / KSTEP;
    assert!(kp.is_multiple_of(TILE_K));
    assert!(a.len() >= nr * kp && w.len() >= nb * groups * 64);
    ctx.check(nr, nb, out);
    thread_local! {
        static PADDED: std::cell::Cell<Vec<i8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    // The last partial row tile is read from a zero-padded copy (a tile load reads 16 rows),
    // kept per thread between calls.
    let full_tiles = nr / TILE_ROWS;
    let tail = nr % TILE_ROWS;
    let mut padded = PADDED.take();
    if tail > 0 {
        padded.clear();
        padded.resize(TILE_ROWS * kp, 0i8);
        padded[..tail * kp].copy_from_slice(&a[full_tiles * TILE_ROWS * kp..nr * kp]);
    }
    let row_tile = |t: usize| -> *const i8 {
        if t < full_tiles {
            a[t * TILE_ROWS * kp..].as_ptr()
        } else {
            padded.as_ptr()
        }
    };
    let tiles = full_tiles + usize::from(tail > 0);
    let config = TileConfig::full();
    let mut sums = [[[0i32; BLOCK]; TILE_ROWS]; 4];
    // SAFETY: the configuration is a valid palette-1 layout; loads read 16 rows of 64 bytes
    // inside `a` (whole row tiles), `padded` (16 rows of `kp`) or `w` (block `b`'s groups
    // `16j..16j + 16`, 1,024 bytes, inside the asserted `nb` blocks); stores write 16 rows of
    // 64 bytes into `sums`; the epilogue writes rows below `nr` of `out` (asserted).
    unsafe {
        asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly, preserves_flags));
        let mut t = 0;
        while t < tiles {
            let two_rows = t + 1 < tiles;
            let (a0, a1) = (row_tile(t), if two_rows { row_tile(t + 1) } else { row_tile(t) });
            let mut b = 0;
            while b < nb {
                let two_blocks = b + 1 < nb;
                let w0 = w.as_ptr().add(b * groups * 64);
                let w1 = if two_blocks { w0.add(groups * 64) } else { w0 };
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem, preserves_flags)
                );
                for j in 0..kp / TILE_K {
                    tile_load!("tmm4", a0.add(j * TILE_K), kp);
                    tile_load!("tmm6", w0.add(j * TILE_K * TILE_ROWS), 64usize);
                    tile_dot!("tmm0", "tmm4", "tmm6");
                    if two_blocks {
                        tile_load!("tmm7", w1.add(j * TILE_K * TILE_ROWS), 64usize);
                        tile_dot!("tmm1", "tmm4", "tmm7");
                    }
                    if two_rows {
                        tile_load!("tmm5", a1.add(j * TILE_K), kp);
                        tile_dot!("tmm2", "tmm5", "tmm6");
                        if two_blocks {
                            tile_dot!("tmm3", "tmm5", "tmm7");
                        }
                    }
                }
                let stride = BLOCK * 4;
                tile_store!("tmm0", sums[0].as_mut_ptr(), stride);
                tile_store!("tmm1", sums[1].as_mut_ptr(), stride);
                tile_store!("tmm2", sums[2].as_mut_ptr(), stride);
                tile_store!("tmm3", sums[3].as_mut_ptr(), stride);
                for (jb, bb) in [b, b + 1].into_iter().enumerate().take(nb - b) {
                    let block = ctx.block(bb);
                    for (i, rt) in [t, t + 1].into_iter().enumerate().take(tiles - t) {
                        let r0 = rt * TILE_ROWS;
                        for (r, row) in sums[2 * i + jb].iter().take(nr - r0).enumerate() {
                            let row = _mm512_loadu_si512(row.as_ptr().cast());
                            ctx.store_row(row, r0 + r, bb, &block, out);
                        }
                    }
                }
                b += 2;
            }
            t += 2;
        }
        asm!("tilerelease", options(nostack, nomem, preserves_flags));
    }
    PADDED.set(padded);
}
