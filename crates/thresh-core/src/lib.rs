//! The thresh compute engine.
//!
//! A small, specialised CPU engine for training classifiers, built for speed on few cores:
//!
//! 1. [`Tensor`]: dense row-major `f32` buffers that layers own and reuse between steps.
//! 2. [`gemm::matmul`]: matrix products through the `gemm` crate, with strided and transposed
//!    views so attention heads and weight transposes need no copies.
//! 3. [`layers`]: each layer has a `forward` that keeps what its backward needs and a
//!    `backward` that accumulates parameter gradients and returns the input gradient. There is
//!    no general autograd graph; models call layers explicitly, which lets kernels fuse steps
//!    and reuse buffers. Every backward pass is checked against finite differences
//!    ([`gradcheck`]).
//! 4. [`optim`]: AdamW, SGD, learning-rate schedules, gradient clipping.
//! 5. [`io`]: named parameters saved and loaded as safetensors.
//! 6. [`models`]: the Transformer-encoder classifier.
//!
//! Parallel work runs on the rayon pool of a [`Threads`] (see [`Threads::install`]); work is
//! split by data size, never by thread count, so results are bit-identical for a given seed and
//! thread count.
//!
//! ```
//! use thresh_core::layers::{CrossEntropy, PaddingMask};
//! use thresh_core::models::{TokenBatch, TransformerClassifier, TransformerConfig};
//! use thresh_core::optim::AdamW;
//! use thresh_core::Module;
//!
//! let config = TransformerConfig { vocab_size: 50, max_len: 8, d_model: 16, heads: 2,
//!     d_ff: 32, classes: 3, ..TransformerConfig::reference() };
//! let mut model = TransformerClassifier::new(config, 0).unwrap();
//! let batch = TokenBatch::new(vec![1, 2, 3, 0, 4, 5, 6, 7],
//!     PaddingMask::from_lengths(4, vec![3, 4]).unwrap()).unwrap();
//! let (mut loss_fn, mut opt) = (CrossEntropy::new(), AdamW::new(0.01));
//! model.zero_grad();
//! let loss = loss_fn.forward(model.forward(&batch, true).unwrap(), &[0, 2]).unwrap();
//! model.backward(loss_fn.grad());
//! opt.step(&mut model, 1e-3);
//! assert!(loss.is_finite());
//! ```

pub mod error;
pub mod gemm;
pub mod gradcheck;
pub mod head_kernels;
pub mod io;
pub mod kernels;
pub mod layers;
pub mod math;
pub mod models;
pub mod optim;
pub mod param;
pub mod qgemm;
pub mod quant;
pub mod rng;
pub mod tensor;
pub mod threads;

pub use error::CoreError;
pub use param::{Module, Param};
pub use rng::Rng;
pub use tensor::Tensor;
pub use threads::Threads;
