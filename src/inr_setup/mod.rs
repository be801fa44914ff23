//! Loading networks (PyTorch checkpoints, the project's npz) and the built-in INRs.
