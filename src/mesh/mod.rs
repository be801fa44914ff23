//! The nonconforming quad/hex mesh: reading, refinement, hanging vertices, location, output.
