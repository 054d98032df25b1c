//! trine's Python module (`trine._trine`, re-exported by the `trine` package): the encoder,
//! the index and fine-tuning, calling the same library crates as the `trine` binary. Long calls
//! release the interpreter so other Python threads run meanwhile.

use pyo3::prelude::*;

mod encoder;
mod error;
mod index;
mod shards;
mod train;

#[pymodule]
fn _trine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TrineError", m.py().get_type::<error::TrineError>())?;
    m.add_class::<encoder::PyEncoder>()?;
    m.add_class::<index::PyIndex>()?;
    m.add_function(wrap_pyfunction!(train::finetune, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(shards::read_embeddings, m)?)?;
    m.add_function(wrap_pyfunction!(shards::row_groups, m)?)?;
    m.add_function(wrap_pyfunction!(shards::embed_row_group, m)?)?;
    m.add_function(wrap_pyfunction!(shards::build_shard, m)?)?;
    m.add_function(wrap_pyfunction!(shards::finish_shards, m)?)?;
    m.add_function(wrap_pyfunction!(shards::sum_stats, m)?)?;
    m.add_function(wrap_pyfunction!(shards::merge_shards, m)?)?;
    Ok(())
}
