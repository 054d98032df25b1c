//! A checkpoint write that fails at any step (file write, fsync, rename, folder sync), at any
//! passage, leaves `LATEST` naming a whole checkpoint: the previous one or the new one.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use trine_train::checkpoint::{self, RunState};
use trine_train::TrainConfig;

fn state(step: usize) -> RunState {
    RunState {
        step,
        config: TrainConfig::default(),
        rows: 10,
        data_digest: "d".into(),
        best: None,
        steps: Vec::new(),
        evals: Vec::new(),
    }
}

fn tensors(v: f32) -> HashMap<String, Tensor> {
    HashMap::from([(
        "w".to_string(),
        Tensor::new(&[v, v + 1.0], &Device::Cpu).unwrap(),
    )])
}

#[test]
fn a_failed_checkpoint_write_leaves_the_previous_checkpoint_whole() {
    let scenario = fail::FailScenario::setup();
    let mut tried = 0;
    for point in [
        "atomic::write",
        "atomic::fsync",
        "atomic::rename",
        "atomic::sync-dir",
    ] {
        for n in 0.. {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path();
            checkpoint::write(out, &state(20), &tensors(1.0), &tensors(2.0), 2).unwrap();
            fail::cfg(point, &format!("{n}*off->1*return->off")).unwrap();
            let result = checkpoint::write(out, &state(40), &tensors(3.0), &tensors(4.0), 2);
            fail::remove(point);
            tried += 1;
            let loaded = checkpoint::latest(out)
                .unwrap_or_else(|e| panic!("{point} #{n}: the latest checkpoint is damaged: {e}"))
                .expect("a checkpoint");
            let step = loaded.state.step;
            let w = loaded.optimizer["w"].to_vec1::<f32>().unwrap();
            match step {
                20 => assert_eq!(w, [2.0, 3.0]),
                40 => assert_eq!(w, [4.0, 5.0]),
                s => panic!("{point} #{n}: step {s}"),
            }
            match result {
                Ok(_) => {
                    assert_eq!(step, 40);
                    break;
                }
                Err(e) => assert!(e.to_string().contains(point), "{e}"),
            }
            assert!(n < 200, "{point} never stopped failing");
        }
    }
    println!("failpoint table (checkpoints): {tried} injected failures, states lost 0");
    scenario.teardown();
}
