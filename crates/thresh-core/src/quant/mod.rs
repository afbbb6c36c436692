//! Compressed storage of parameters: row-wise int8 ([`Int8Rows`]) for linear layers and
//! embedding tables, which the integer kernels of [`crate::qgemm`] multiply directly, and
//! product quantisation ([`PqTable`]) for the large embedding tables of bag models.
//!
//! A compressed parameter keeps its `f32` value as the dequantised matrix, so every layer still
//! reads plain floats where it needs them (embedding lookups, backward passes); linear layers
//! whose weight is int8 multiply in int8 instead (see [`crate::layers::Linear`]).

pub mod int8;
pub mod pq;
pub mod pq_table;

pub use int8::Int8Rows;
pub use pq::ProductQuantizer;
pub use pq_table::PqTable;
