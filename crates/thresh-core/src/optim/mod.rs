//! Optimisers, learning-rate schedules and gradient clipping.

pub mod adamw;
pub mod clip;
pub mod schedule;
pub mod sgd;

pub use adamw::AdamW;
pub use clip::clip_grad_norm;
pub use schedule::Schedule;
pub use sgd::Sgd;
