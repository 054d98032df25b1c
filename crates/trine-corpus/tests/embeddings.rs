//! Embeddings Parquet: fixed-size lists as trine writes them, variable lists as other tools
//! write them, and vectors of mixed width named by row and id.

use std::sync::Arc;

use arrow::array::{ListArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Schema};
use parquet::arrow::ArrowWriter;
use trine_corpus::embeddings::{self, Embeddings};
use trine_corpus::CorpusError;

fn write_lists(path: &std::path::Path, rows: Vec<Option<Vec<Option<f32>>>>) {
    let n = rows.len();
    let ids = StringArray::from_iter_values((0..n).map(|i| format!("d{i}")));
    write_with_ids(path, Arc::new(ids), rows);
}

/// Writes embeddings whose `id` column is any array (polars and pandas write large utf8, utf8
/// view or integers).
fn write_with_ids(
    path: &std::path::Path,
    ids: arrow::array::ArrayRef,
    rows: Vec<Option<Vec<Option<f32>>>>,
) {
    let lists = ListArray::from_iter_primitive::<Float32Type, _, _>(rows);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", ids.data_type().clone(), false),
        Field::new(
            "embedding",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            true,
        ),
    ]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![ids, Arc::new(lists)]).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn fixed_size_lists_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.parquet");
    let emb = Embeddings {
        ids: vec!["a".into(), "b".into()],
        dim: 3,
        values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        model: "m".into(),
        fingerprint: "f".into(),
    };
    embeddings::write(&p, &emb).unwrap();
    assert_eq!(embeddings::read(&p).unwrap(), emb);
}

#[test]
fn variable_lists_are_read_when_all_rows_agree() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.parquet");
    write_lists(
        &p,
        vec![
            Some(vec![Some(1.0), Some(0.0)]),
            Some(vec![Some(0.0), Some(1.0)]),
        ],
    );
    let emb = embeddings::read(&p).unwrap();
    assert_eq!((emb.dim, emb.values), (2, vec![1.0, 0.0, 0.0, 1.0]));
}

#[test]
fn mixed_widths_and_nulls_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.parquet");
    write_lists(
        &p,
        vec![
            Some(vec![Some(1.0), Some(0.0)]),
            Some(vec![Some(0.0), Some(1.0)]),
            Some(vec![Some(0.5), Some(0.5), Some(0.1)]),
        ],
    );
    let err = embeddings::read(&p).unwrap_err();
    assert!(matches!(err, CorpusError::BadValue { row: 2, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("mixed.parquet") && msg.contains("id `d2`") && msg.contains("3 values"),
        "{msg}"
    );
    let p = dir.path().join("null.parquet");
    write_lists(&p, vec![Some(vec![Some(1.0)]), None]);
    let err = embeddings::read(&p).unwrap_err();
    assert!(
        matches!(err, CorpusError::NullValue { row: 1, .. }),
        "{err}"
    );
}

#[test]
fn ids_may_be_large_utf8_utf8_view_or_integers() {
    use arrow::array::{Int64Array, LargeStringArray, StringViewArray};
    let dir = tempfile::tempdir().unwrap();
    let rows = || {
        vec![
            Some(vec![Some(1.0), Some(0.0)]),
            Some(vec![Some(0.0), Some(1.0)]),
        ]
    };
    let columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(LargeStringArray::from(vec!["7", "42"])),
        Arc::new(StringViewArray::from(vec!["7", "42"])),
        Arc::new(Int64Array::from(vec![7, 42])),
    ];
    for (i, ids) in columns.into_iter().enumerate() {
        let p = dir.path().join(format!("ids{i}.parquet"));
        write_with_ids(&p, ids, rows());
        let emb = embeddings::read(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(emb.ids, ["7", "42"]);
    }
}
