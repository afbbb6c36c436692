//! Learning-rate schedules: a factor of the base rate per optimiser step.

/// How the learning rate changes over training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Linear warmup from 0 over `warmup` steps, then linear decay to 0 at `total`.
    Linear {
        /// Warmup steps.
        warmup: u64,
        /// Total steps.
        total: u64,
    },
    /// Linear warmup, then half a cosine down to 0 at `total`.
    Cosine {
        /// Warmup steps.
        warmup: u64,
        /// Total steps.
        total: u64,
    },
}

impl Schedule {
    /// The multiplier of the base rate at 0-based `step`.
    pub fn factor(&self, step: u64) -> f32 {
        let (warmup, total) = match *self {
            Schedule::Constant => return 1.0,
            Schedule::Linear { warmup, total } | Schedule::Cosine { warmup, total } => {
                (warmup, total)
            }
        };
        if step < warmup {
            return (step + 1) as f32 / warmup as f32;
        }
        let span = total.saturating_sub(warmup).max(1) as f32;
        let progress = ((step - warmup) as f32 / span).min(1.0);
        match self {
            Schedule::Linear { .. } => 1.0 - progress,
            _ => 0.5 * (1.0 + (std::f32::consts::PI * progress).cos()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        let lin = Schedule::Linear { warmup: 10, total: 110 };
        assert_eq!(lin.factor(0), 0.1);
        assert_eq!(lin.factor(9), 1.0);
        assert_eq!(lin.factor(10), 1.0);
        assert!((lin.factor(60) - 0.5).abs() < 1e-6);
        assert_eq!(lin.factor(500), 0.0);
        let cos = Schedule::Cosine { warmup: 0, total: 100 };
        assert!((cos.factor(50) - 0.5).abs() < 1e-6);
        assert!(cos.factor(100).abs() < 1e-6);
        assert_eq!(Schedule::Constant.factor(7), 1.0);
    }
}
