//! Topics made for a real index on disk: the clustering recovers planted groups, keywords and
//! representatives describe them, the hierarchy merges the closest topics, and bad requests are
//! refused before anything is written.

use trine_cluster::agglomerative::merge_into;
use trine_cluster::metrics::v_measure;
use trine_cluster::plot::MapChoice;
use trine_cluster::topics::{cluster_index, TopicOptions};
use trine_cluster::{Algorithm, KMeansOptions};
use trine_corpus::Document;
use trine_index::{Index, ModelInfo};

const DIM: usize = 6;
/// Four planted groups: 0 and 1 are close (fruit), 2 and 3 are close (music).
const GROUPS: [(&str, [f32; DIM]); 4] = [
    ("apple orchard cider", [1.0, 0.0, 0.0, 0.0, 0.3, 0.0]),
    ("pear orchard jam", [1.0, 0.0, 0.0, 0.0, 0.0, 0.3]),
    ("violin sonata bow", [0.0, 1.0, 0.0, 0.0, 0.3, 0.0]),
    ("drum rhythm beat", [0.0, 1.0, 0.0, 0.0, 0.0, 0.3]),
];

fn index(root: &std::path::Path, n: usize) -> Index {
    let mut docs = Vec::new();
    let mut vectors = Vec::new();
    for i in 0..n {
        let (words, centre) = GROUPS[i % 4];
        docs.push(Document {
            id: format!("d{i:03}"),
            title: format!("note {i}"),
            text: format!("{words} {}", ["the", "a", "one"][i % 3]),
        });
        let mut v = centre.to_vec();
        v[2 + i % 2] += 0.02 * (i % 5) as f32;
        vectors.extend(v);
    }
    let model = ModelInfo {
        name: "synthetic".into(),
        fingerprint: "c".repeat(64),
        dim: DIM,
        ..Default::default()
    };
    Index::build(root, &docs, &vectors, model, false).unwrap()
}

fn options(k: usize, levels: Vec<usize>) -> TopicOptions {
    TopicOptions {
        algorithm: Algorithm::KMeans(KMeansOptions {
            k,
            spherical: true,
            ..KMeansOptions::default()
        }),
        keywords: 3,
        representatives: 2,
        levels,
        map: MapChoice::Pca,
    }
}

#[test]
fn topics_recover_planted_groups_with_their_words_and_a_hierarchy() {
    let dir = tempfile::tempdir().unwrap();
    index(dir.path(), 40);
    let index = cluster_index(dir.path(), &options(4, vec![2]), &mut |_| {}).unwrap();
    assert_eq!(index.manifest().generation, 2);
    let t = index.topics().unwrap();
    let gold: Vec<usize> = (0..40).map(|i| i % 4).collect();
    let got: Vec<usize> = (0..40).map(|r| t.of(r).unwrap()).collect();
    assert_eq!(v_measure(&gold, &got).unwrap().2, 1.0);
    for topic in &t.topics {
        let group = gold[t.members(topic.id)[0]];
        let words: Vec<&str> = GROUPS[group].0.split(' ').collect();
        // c-TF-IDF: the two words only this group has come before the one it shares.
        let unique: Vec<&str> = words.iter().copied().filter(|w| *w != "orchard").collect();
        assert!(
            unique.contains(&topic.keywords[0].as_str()),
            "{:?}",
            topic.keywords
        );
        assert_eq!(topic.size_at_clustering, 10);
        assert_eq!(topic.representatives.len(), 2);
        for id in &topic.representatives {
            assert_eq!(t.of(index.row_of(id).unwrap()), Some(topic.id));
        }
        assert!(topic.cohesion > 0.99, "{}", topic.cohesion);
    }
    // One coarser level: the fruit topics share a parent, the music ones the other.
    let parent = |group: usize| t.topics[got[group]].parents[0];
    assert_eq!(parent(0), parent(1));
    assert_eq!(parent(2), parent(3));
    assert_ne!(parent(0), parent(2));
    assert_eq!(t.levels[0].groups, 2);
    let fruit = &t.levels[0].keywords[parent(0)];
    assert_eq!(
        fruit[0], "orchard",
        "the word both fruit topics share leads: {fruit:?}"
    );
    // The map is stored with the topics: an SVG naming every topic and a PNG of it.
    let map = index.topic_map().expect("a map was drawn");
    let svg = String::from_utf8(map.svg.clone()).unwrap();
    for topic in &t.topics {
        assert!(
            svg.contains(&format!("{}: {}", topic.id, topic.keywords[0])),
            "{}",
            topic.id
        );
    }
    assert_eq!(&map.png[..8], b"\x89PNG\r\n\x1a\n");
    // A later change keeps the topics and their map.
    let index =
        Index::set_default_fusion(dir.path(), trine_index::Fusion::Rrf { k: 10.0 }).unwrap();
    assert_eq!(index.topic_map().map(|m| m.png.len()), Some(map.png.len()));
}

#[test]
fn merging_centres_follows_average_linkage_by_hand() {
    // Unit vectors at 0°, 10°, 90° and 105°: cosine distances 0.0152 (0-1) and 0.0341 (2-3)
    // merge first, in that order; everything else is farther.
    let at = |deg: f32| [deg.to_radians().cos(), deg.to_radians().sin()];
    let values: Vec<f32> = [0.0, 10.0, 90.0, 105.0]
        .iter()
        .flat_map(|&d| at(d))
        .collect();
    assert_eq!(merge_into(&values, 2, 4).unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(merge_into(&values, 2, 3).unwrap(), vec![0, 0, 1, 2]);
    assert_eq!(merge_into(&values, 2, 2).unwrap(), vec![0, 0, 1, 1]);
    assert_eq!(merge_into(&values, 2, 1).unwrap(), vec![0, 0, 0, 0]);
    assert!(merge_into(&values, 2, 5).is_err());
}

#[test]
fn bad_topic_requests_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    index(dir.path(), 12);
    let err = cluster_index(dir.path(), &options(13, vec![]), &mut |_| {})
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "k = 13 is larger than the number of documents (12)"
    );
    let err = cluster_index(dir.path(), &options(4, vec![4]), &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("level of 4 groups") && err.contains("4 topics"),
        "{err}"
    );
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.manifest().generation, 1, "no generation was written");
    assert!(index.topics().is_none());
}
