//! Fuzzes the onnx reader on arbitrary bytes, through to the network it becomes: loading
//! must end in Ok or Err, never a panic, a hang or a huge allocation, and a network that
//! loads must evaluate.

#![no_main]

#[path = "../harness/checkpoint_input.rs"]
mod checkpoint_input;
#[path = "../harness/graph_input.rs"]
mod graph_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = graph_input::load_onnx(data) {
        checkpoint_input::exercise_network(&f);
    }
});
