//! Corpus, query and qrels readers on good and bad input: every error names the file and the
//! line, row, column or field.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use trine_corpus::beir::{load_split, read_qrels, read_queries};
use trine_corpus::JsonFields;
use trine_corpus::{read_corpus, CorpusError, CorpusFormat, CorpusOptions};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn opts() -> CorpusOptions {
    CorpusOptions::default()
}

fn write_parquet(path: &Path, cols: Vec<(&str, Arc<dyn arrow::array::Array>)>) {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect()).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn jsonl_with_custom_fields_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.jsonl",
        b"{\"doc\": \"a\", \"body\": \"first\", \"head\": \"T\"}\n\n{\"body\": \"second\"}\r\n",
    );
    let mut o = opts();
    o.fields = JsonFields {
        id: "doc".into(),
        title: "head".into(),
        text: "body".into(),
    };
    let docs = read_corpus(&p, &o).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(
        (docs[0].id.as_str(), docs[0].full_text().as_str()),
        ("a", "T first")
    );
    assert_eq!(docs[1].id, "3", "missing id falls back to the line number");
}

#[test]
fn jsonl_line_that_is_not_json_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.jsonl",
        b"{\"_id\":\"1\",\"text\":\"ok\"}\n{\"_id\": \"2\", \"text\": \n",
    );
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(matches!(err, CorpusError::Json { line: 2, .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!("{}:2:", p.display())),
        "{err}"
    );
}

#[test]
fn jsonl_without_text_field_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.jsonl",
        b"{\"_id\":\"1\",\"text\":\"ok\"}\n{\"_id\":\"2\",\"body\":\"x\"}\n",
    );
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(
        matches!(err, CorpusError::MissingField { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`text`"), "{err}");
    let p = write(dir.path(), "d.jsonl", b"{\"_id\":\"1\",\"text\":5}\n[1]\n");
    assert!(matches!(
        read_corpus(&p, &opts()).unwrap_err(),
        CorpusError::FieldType { line: 1, .. }
    ));
}

#[test]
fn invalid_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "c.txt", b"fine\nbad \xff\xfe here\n");
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(
        matches!(
            err,
            CorpusError::InvalidUtf8 {
                line: 2,
                byte: 4,
                ..
            }
        ),
        "{err}"
    );
    let p = write(
        dir.path(),
        "c.jsonl",
        b"{\"_id\":\"1\",\"text\":\"\xc3\x28\"}\n",
    );
    assert!(matches!(
        read_corpus(&p, &opts()).unwrap_err(),
        CorpusError::InvalidUtf8 { line: 1, .. }
    ));
}

#[test]
fn empty_corpus_and_duplicate_ids_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "c.txt", b"\n  \n");
    assert!(matches!(
        read_corpus(&p, &opts()).unwrap_err(),
        CorpusError::Empty { .. }
    ));
    let p = write(dir.path(), "e.jsonl", b"");
    assert!(matches!(
        read_corpus(&p, &opts()).unwrap_err(),
        CorpusError::Empty { .. }
    ));
    let p = write(
        dir.path(),
        "d.jsonl",
        b"{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"1\",\"text\":\"b\"}\n",
    );
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(err.to_string().contains("duplicate id `1`"), "{err}");
    let err = read_corpus(&dir.path().join("absent.jsonl"), &opts()).unwrap_err();
    assert!(err.to_string().contains("absent.jsonl"), "{err}");
}

#[test]
fn text_file_ids_are_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "c.txt", b"one\n\nthree\n");
    let docs = read_corpus(&p, &opts()).unwrap();
    let ids: Vec<_> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
}

#[test]
fn parquet_columns_are_read_and_missing_column_lists_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.parquet");
    write_parquet(
        &p,
        vec![
            ("pid", Arc::new(Int64Array::from(vec![10, 11]))),
            (
                "passage",
                Arc::new(StringArray::from(vec!["alpha", "beta"])),
            ),
        ],
    );
    let mut o = opts();
    o.fields = JsonFields {
        id: "pid".into(),
        title: "title".into(),
        text: "passage".into(),
    };
    let docs = read_corpus(&p, &o).unwrap();
    assert_eq!((docs[1].id.as_str(), docs[1].text.as_str()), ("11", "beta"));
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(matches!(err, CorpusError::MissingColumn { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("`text`") && msg.contains("pid, passage"),
        "{msg}"
    );
}

#[test]
fn parquet_null_text_names_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.parquet");
    write_parquet(
        &p,
        vec![("text", Arc::new(StringArray::from(vec![Some("a"), None])))],
    );
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(
        matches!(err, CorpusError::NullValue { row: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("row 1") && err.to_string().contains("`text`"));
    let p = dir.path().join("n.parquet");
    write_parquet(
        &p,
        vec![(
            "text",
            Arc::new(arrow::array::Float32Array::from(vec![1.0])),
        )],
    );
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(matches!(err, CorpusError::ColumnType { .. }), "{err}");
    let _ = DataType::Utf8;
}

#[test]
fn corrupt_parquet_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "c.parquet", b"PAR1 this is not parquet");
    let err = read_corpus(&p, &opts()).unwrap_err();
    assert!(err.to_string().contains("c.parquet"), "{err}");
}

#[test]
fn beir_folder_and_split() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "corpus.jsonl", b"{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"x\"}\n{\"_id\":\"d2\",\"title\":\"\",\"text\":\"y\"}\n");
    write(
        dir.path(),
        "queries.jsonl",
        b"{\"_id\":\"q1\",\"text\":\"first\"}\n{\"_id\":\"q2\",\"text\":\"second\"}\n",
    );
    std::fs::create_dir(dir.path().join("qrels")).unwrap();
    write(
        dir.path(),
        "qrels/test.tsv",
        b"query-id\tcorpus-id\tscore\nq2\td1\t1\nq2\td2\t2\n",
    );
    let docs = read_corpus(dir.path(), &opts()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(CorpusFormat::Auto.resolve(dir.path()), CorpusFormat::Beir);
    let split = load_split(dir.path(), "test").unwrap();
    assert_eq!(split.queries.len(), 1);
    assert_eq!(split.qrels["q2"]["d2"], 2);
}

#[test]
fn qrels_naming_an_unknown_query_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let q = write(
        dir.path(),
        "queries.jsonl",
        b"{\"_id\":\"q1\",\"text\":\"x\"}\n",
    );
    let queries = read_queries(&q).unwrap();
    let r = write(
        dir.path(),
        "test.tsv",
        b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n",
    );
    let err = read_qrels(&r, &queries).unwrap_err();
    assert!(
        matches!(err, CorpusError::UnknownQuery { line: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`q9`"), "{err}");
    let r = write(dir.path(), "bad.tsv", b"q1\td1\n");
    assert!(matches!(
        read_qrels(&r, &queries).unwrap_err(),
        CorpusError::Malformed { line: 1, .. }
    ));
    let r = write(dir.path(), "bad2.tsv", b"h\th\th\nq1\td1\tyes\n");
    assert!(matches!(
        read_qrels(&r, &queries).unwrap_err(),
        CorpusError::Malformed { line: 2, .. }
    ));
}

/// A Parquet corpus of 7 rows in row groups of 3: each group read alone gives the documents
/// the whole file gives at those rows (ids from the file's row numbers where there is no id
/// column); a group the file lacks is an error naming the file.
#[test]
fn parquet_row_groups_read_alone_match_the_whole_file() {
    use parquet::file::properties::WriterProperties;
    let dir = tempfile::tempdir().unwrap();
    let texts: Vec<String> = (0..7).map(|i| format!("text {i}")).collect();
    for with_ids in [true, false] {
        let path = dir.path().join(format!("c{with_ids}.parquet"));
        let mut fields = vec![Field::new("text", DataType::Utf8, false)];
        let mut cols: Vec<Arc<dyn arrow::array::Array>> =
            vec![Arc::new(StringArray::from_iter_values(&texts))];
        if with_ids {
            fields.push(Field::new("_id", DataType::Utf8, false));
            cols.push(Arc::new(StringArray::from_iter_values(
                (0..7).map(|i| format!("d{i}")),
            )));
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(3))
            .build();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props))
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        assert_eq!(trine_corpus::row_groups(&path).unwrap(), vec![3, 3, 1]);
        let whole = read_corpus(&path, &opts()).unwrap();
        let fields = opts().fields;
        let groups: Vec<_> = (0..3)
            .flat_map(|g| trine_corpus::read_row_group(&path, &fields, g).unwrap())
            .collect();
        assert_eq!(groups, whole);
        assert_eq!(whole[4].id, if with_ids { "d4" } else { "4" });
        let err = trine_corpus::read_row_group(&path, &fields, 3).unwrap_err();
        assert!(matches!(
            err,
            CorpusError::RowGroup {
                group: 3,
                groups: 3,
                ..
            }
        ));
        assert!(err.to_string().contains(&path.display().to_string()));
    }
}
