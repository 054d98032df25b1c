//! Engine errors as Python exceptions, with the message the CLI prints after `error: `.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::PyErr;

create_exception!(
    trine,
    TrineError,
    PyException,
    "An error the engine reports: a file, row or field it cannot use, a model that does not fit."
);

/// The error and its causes, joined by `: ` as the CLI prints them.
pub fn engine(e: impl std::error::Error) -> PyErr {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TrineError::new_err(message)
}

/// A keyword argument with a value outside its choices.
pub fn choice(name: &str, value: &str, choices: &[&str]) -> PyErr {
    PyValueError::new_err(format!(
        "{name}='{value}' is not one of {}",
        choices.join(", ")
    ))
}
